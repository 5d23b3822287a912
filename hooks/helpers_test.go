package hooks_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/consulelect/consulelect/internal/harness/testkit"

	"github.com/consulelect/consulelect/hooks"
	"github.com/consulelect/consulelect/leader"
)

// testTerm is a term as tests can build one: a zero Term, handed to the
// hooks as is.
func testTerm() *leader.Term { return &leader.Term{} }

// recorder records hook calls in the order they happen.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, fmt.Sprintf(format, args...))
}

func (r *recorder) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

// hook returns a hook named name that records "elected <name>" and
// "demoted <name>", and whose OnElected returns electErr.
func (r *recorder) hook(name string, order int, electErr error) hooks.Hook {
	return hooks.Hook{
		Name:  name,
		Order: order,
		OnElected: func(context.Context, *leader.Term) error {
			r.add("elected %s", name)
			return electErr
		},
		OnDemoted: func(context.Context, *leader.Term, error) { r.add("demoted %s", name) },
	}
}

// Helpers shared with other packages' tests.
var (
	testLogger = testkit.JSONLogger
	isClosed   = testkit.IsClosed
	waitDone   = testkit.WaitClosed
)

// waitFor waits until cond holds, or fails the test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, what, cond)
}

// testRunner runs terms through hooks.LeaderFunc, as the elector does.
type testRunner struct {
	t    *testing.T
	hs   []hooks.Hook
	opts []hooks.Option
}

// newRunner checks hs and opts with hooks.LeaderFunc or fails the test.
func newRunner(t *testing.T, hs []hooks.Hook, opts ...hooks.Option) *testRunner {
	t.Helper()
	if _, err := hooks.LeaderFunc(hs, nil, opts...); err != nil {
		t.Fatalf("LeaderFunc: %v", err)
	}
	return &testRunner{t: t, hs: hs, opts: opts}
}

// Lead runs one term of the leader function for body.
func (r *testRunner) Lead(ctx context.Context, term *leader.Term, body func(context.Context) error) error {
	lead, err := hooks.LeaderFunc(r.hs, body, r.opts...)
	if err != nil {
		r.t.Fatalf("LeaderFunc: %v", err)
	}
	return lead(ctx, term)
}

// endTerm is a body that ends the term with reason, as the elector would,
// and returns nil.
func endTerm(cancel context.CancelCauseFunc, reason error) func(context.Context) error {
	return func(context.Context) error {
		cancel(reason)
		return nil
	}
}

// stragglers is the protocol the elector looks for in its leader work's
// error.
type stragglers interface {
	error
	Stragglers() []string
	Done() <-chan struct{}
}

// stragglersError is what the lifecycle supervisor returns when it gave up
// waiting for workers: done is closed when they have returned.
type stragglersError struct {
	names []string
	done  <-chan struct{}
}

func (e *stragglersError) Error() string         { return "stragglers: " + strings.Join(e.names, ",") }
func (e *stragglersError) Stragglers() []string  { return e.names }
func (e *stragglersError) Done() <-chan struct{} { return e.done }

// gate returns a channel and the func that closes it, once; the test's
// cleanup closes it too, so that nothing stays blocked on it if the test
// fails early.
func gate(t *testing.T) (<-chan struct{}, func()) {
	c := make(chan struct{})
	open := sync.OnceFunc(func() { close(c) })
	t.Cleanup(open)
	return c, open
}
