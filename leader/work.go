package leader

import (
	"context"
	"fmt"
	"runtime/debug"
)

// LeaderFunc is the owner's leader work for one term. The elector calls it
// in a goroutine of its own when a term starts, with the term's context.
// It must return soon after ctx is done: the elector does not release the
// key, nor campaign again, until it has returned. A non-nil error (or a
// panic, which is recovered) while the term is active gives the term up
// (ErrLeaderWorkFailed): the key is released and the elector campaigns
// again after ResignPause. Returning nil early ends only the work; the
// elector keeps leading.
type LeaderFunc func(ctx context.Context, term *Term) error

// A stragglers error is what leader work returns when it stopped waiting
// for some of its parts after the term ended, and they may still run (the
// lifecycle package's supervisor returns one after its grace period). The
// elector then does not release the key: it destroys the session, so that
// Consul's lock-delay keeps successors out for LockDelay more, and reports
// the names in Status.Stragglers.
type stragglers interface {
	error
	Stragglers() []string
}

// work is one term's call of the LeaderFunc.
type work struct {
	done chan struct{}
	err  error // set before done is closed
}

func (e *Elector) startWork(t *Term) *work {
	w := &work{done: make(chan struct{})}
	if e.leaderFunc == nil {
		close(w.done)
		return w
	}
	go func() {
		defer close(w.done)
		err := e.callLeaderFunc(t)
		w.err = err
		switch {
		case err == nil:
		case t.Context().Err() == nil:
			e.log.Error("leader work failed; resigning", "token", t.Token, "error", err)
			t.end(fmt.Errorf("%w: %w", ErrLeaderWorkFailed, err))
		default:
			e.log.Warn("leader work ended with an error", "token", t.Token, "error", err)
		}
	}()
	return w
}

func (e *Elector) callLeaderFunc(t *Term) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	return e.leaderFunc(t.Context(), t)
}

// awaitWork waits for a term's leader work to return. While ctx (Run's)
// lives it waits as long as it takes, reporting the straggler every
// StopTimeout; once ctx has ended it waits within the cleanup context and
// reports false if that ends first.
func (e *Elector) awaitWork(ctx context.Context, w *work) bool {
	for ctx.Err() == nil {
		warn, cancel := context.WithTimeout(ctx, e.cfg.StopTimeout)
		select {
		case <-w.done:
			cancel()
			e.state.setStragglers(nil)
			return true
		case <-warn.Done():
		}
		cancel()
		if ctx.Err() == nil {
			e.state.setStragglers([]string{"leader func"})
			e.log.Warn("leader work still running after its term ended", "waited", e.cfg.StopTimeout)
		}
	}
	cctx, cancel := e.cleanupContext(ctx)
	defer cancel()
	select {
	case <-w.done:
		e.state.setStragglers(nil)
		return true
	case <-cctx.Done():
		e.state.setStragglers([]string{"leader func"})
		return false
	}
}

// cleanupContext bounds the cleanup after Run's ctx ended: Stop's ctx when
// Stop was called, else StopTimeout.
func (e *Elector) cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	e.mu.Lock()
	stopCtx := e.stopCtx
	e.mu.Unlock()
	if stopCtx != nil {
		return context.WithCancel(stopCtx)
	}
	return context.WithTimeout(context.WithoutCancel(ctx), e.cfg.StopTimeout)
}
