// Package leadertest helps users test their own leader-only code: Fake
// runs a leader.LeaderFunc under terms that the test starts and ends, with
// no Consul, and DevAgent starts a real Consul dev agent for integration
// tests. fxmoduletest.FakeElection puts a Fake in an fx graph in place of the
// election.
package leadertest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/consulelect/consulelect/internal/core/safe"
	"github.com/consulelect/consulelect/internal/core/termhook"
	"github.com/consulelect/consulelect/leader"
)

// ErrLeading: Elect was called while a term is active.
var ErrLeading = errors.New("leadertest: a term is active")

// A Fake runs a LeaderFunc as an Elector does, under real *leader.Term
// values (Context, Token, Session, Reason, leader.TermFromContext all
// work), but the test decides when terms start and end. Tokens increase
// from 1. It is safe for concurrent use.
type Fake struct {
	key string
	f   leader.LeaderFunc

	mu    sync.Mutex
	token uint64
	cur   *run // the latest term's run
}

// run is one term and its LeaderFunc call.
type run struct {
	term *leader.Term
	end  func(error)
	done chan struct{}
	err  error // the LeaderFunc's, set before done is closed
}

// NewFake returns a Fake that runs f for every term on key.
func NewFake(key string, f leader.LeaderFunc) *Fake { return &Fake{key: key, f: f} }

// Elect starts a term and calls the LeaderFunc with it in a goroutine of
// its own, as an Elector does when it is elected. It returns ErrLeading
// while a term is active. If the LeaderFunc returns an error (or panics)
// during the term, the term ends with leader.ErrLeaderWorkFailed.
func (f *Fake) Elect() (*leader.Term, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cur != nil && f.cur.term.Context().Err() == nil {
		return nil, ErrLeading
	}
	f.token++
	t, end := termhook.New(f.key, "leadertest-session-"+strconv.FormatUint(f.token, 10), f.token)
	r := &run{term: t.(*leader.Term), end: end, done: make(chan struct{})}
	f.cur = r
	go func() {
		defer close(r.done)
		if f.f == nil {
			return
		}
		r.err = safe.Call(func() error { return f.f(r.term.Context(), r.term) })
		if r.err != nil && r.term.Context().Err() == nil {
			r.end(fmt.Errorf("%w: %w", leader.ErrLeaderWorkFailed, r.err))
		}
	}()
	return r.term, nil
}

// Term returns the active term, nil when not leading.
func (f *Fake) Term() *leader.Term {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cur == nil || f.cur.term.Context().Err() != nil {
		return nil
	}
	return f.cur.term
}

// Demote ends the active term with reason (consulelect.ErrLockLost,
// consulelect.ErrSessionInvalidated, consulelect.ErrConsulUnreachable,
// leader.ErrStopped, ...; it becomes the term context's cause and Reason),
// then waits, within ctx, for the LeaderFunc to return, and returns its
// error. If ctx ends first, the leader work did not stop: Demote returns an
// error matching leader.ErrLeaderWorkRunning, the failure to assert on.
// Without an active term it returns leader.ErrNotLeader.
func (f *Fake) Demote(ctx context.Context, reason error) error {
	if reason == nil {
		return errors.New("leadertest: Demote needs a reason")
	}
	f.mu.Lock()
	r := f.cur
	f.mu.Unlock()
	if r == nil || r.term.Context().Err() != nil {
		return leader.ErrNotLeader
	}
	r.end(reason)
	return f.wait(ctx, r)
}

// Wait waits, within ctx, for the latest term's LeaderFunc to return, and
// returns its error (leader.ErrLeaderWorkRunning if ctx ends first).
func (f *Fake) Wait(ctx context.Context) error {
	f.mu.Lock()
	r := f.cur
	f.mu.Unlock()
	if r == nil {
		return nil
	}
	return f.wait(ctx, r)
}

func (f *Fake) wait(ctx context.Context, r *run) error {
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return fmt.Errorf("%w: the LeaderFunc of term %d did not return: %w", leader.ErrLeaderWorkRunning, r.term.Token(), ctx.Err())
	}
}
