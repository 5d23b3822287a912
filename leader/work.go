package leader

import (
	"context"
	"errors"
	"fmt"

	"github.com/consulelect/consulelect/internal/core/safe"
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
// for some of its parts after the term ended and they may still run (the
// lifecycle package's supervisor returns one after its grace period, the
// hooks package's runner when a hook overran its timeout). Stragglers names
// them; Done is closed once every one of them has returned. The elector
// keeps the key and its session until then (releasing would let a
// successor act while they run), reports the names in Status.Stragglers
// and fails liveness.
type stragglers interface {
	error
	Stragglers() []string
	Done() <-chan struct{}
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
			e.log.Error("leader work failed; resigning", "token", t.token, "error", err)
			t.end(fmt.Errorf("%w: %w", ErrLeaderWorkFailed, err))
		default:
			e.log.Warn("leader work ended with an error", "token", t.token, "error", err)
		}
	}()
	return w
}

func (e *Elector) callLeaderFunc(t *Term) error {
	err := safe.Call(func() error { return e.leaderFunc(t.Context(), t) })
	if p, ok := err.(*safe.Panic); ok { // its own panic, not one wrapped in an error it returned
		return fmt.Errorf("%w\n%s", p, p.Stack)
	}
	return err
}

// awaitWork waits until the term's leader work has returned, and with it
// every part that it left running (see stragglers). While Run's ctx lives
// it waits as long as it takes: the key and the session stay ours. Work
// still running StopTimeout after the term ended is declared a straggler
// (see declareStragglers). Once ctx has ended it waits within the cleanup
// context and reports false if that ends first.
func (e *Elector) awaitWork(ctx context.Context, t *Term, session string, w *work) bool {
	graceUp := make(chan struct{})
	timer := e.clock.AfterFunc(t.Ended().Add(e.cfg.StopTimeout).Sub(e.clock.Now()), func() { close(graceUp) })
	defer timer.Stop()
	names := []string{"leader work"}
	declared := false
	var done <-chan struct{} = w.done
	returned := false
	stopping := ctx.Done()
	var cleanup <-chan struct{}
	for {
		select {
		case <-done:
			var left stragglers
			if returned || !errors.As(w.err, &left) {
				if declared {
					e.log.Info("leader work returned at last", "session", session)
					e.setStragglers(nil)
				}
				return true
			}
			returned, done, names, graceUp = true, left.Done(), left.Stragglers(), nil
			e.declareStragglers(names, session)
			declared = true
		case <-graceUp:
			graceUp = nil
			select {
			case <-done: // returned just now: not a straggler
				continue
			default:
			}
			if !declared {
				e.declareStragglers(names, session)
				declared = true
			}
		case <-stopping:
			stopping = nil
			cctx, cancel := e.cleanupContext(ctx)
			defer cancel()
			cleanup = cctx.Done()
		case <-cleanup:
			// Stopping, and the work still runs: name it until it returns.
			e.setStragglers(names)
			abandoned := make(chan struct{})
			e.setAbandoned(abandoned)
			go e.clearWhenDone(w, done, returned, abandoned)
			return false
		}
	}
}

// clearWhenDone waits for abandoned leader work (whose goroutine this one
// shadows: it lives exactly as long), then clears Status.Stragglers and
// closes abandoned, which lets the elector run again.
func (e *Elector) clearWhenDone(w *work, done <-chan struct{}, returned bool, abandoned chan struct{}) {
	<-done
	var left stragglers
	if !returned && errors.As(w.err, &left) {
		<-left.Done()
	}
	e.setStragglers(nil)
	close(abandoned)
}

// setStragglers reports what leader work still runs (nil: nothing) in
// Status and to metrics.
func (e *Elector) setStragglers(names []string) {
	e.state.setStragglers(names)
	e.metrics.stragglers(e.cfg.Key, names)
}

// declareStragglers reports leader work that outlived its term: in
// Status.Stragglers (liveness then fails), to metrics and in the log; with
// ExitOnStragglers it ends the process.
func (e *Elector) declareStragglers(names []string, session string) {
	e.setStragglers(names)
	e.log.Error("leader work still running after its term ended; keeping the key until it returns",
		"stragglers", names, "session", session)
	if !e.cfg.ExitOnStragglers {
		return
	}
	// Destroying the session starts Consul's lock-delay: no successor can
	// acquire for LockDelay from when Consul applies it, and this process
	// is gone at most half the safety margin after sending it, answered or
	// not (docs/safety.md).
	ctx, cancel := context.WithTimeout(context.Background(), min(e.cfg.RequestTimeout, (e.cfg.LockDelay-e.cfg.DemoteAfter)/2))
	err := e.destroySession(ctx, session)
	cancel()
	e.log.Error("exiting the process (ExitOnStragglers)", "stragglers", names, "destroy_session_error", err)
	e.exit(1)
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
