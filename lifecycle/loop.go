package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/consulelect/consulelect/internal/core/safe"
)

// loop runs w for one Run: it takes w's slot, runs w, restarts it after
// errors under RestartOnError, and returns a non-nil error only when the
// term must be given up (ResignOnError, or the backoff gave up).
func (s *Supervisor) loop(ctx context.Context, w Worker, inst *instance) error {
	if !s.acquire(ctx, inst) {
		return nil
	}
	defer s.release(inst)
	b := s.newBackoff()
	for {
		started := time.Now()
		err := s.call(ctx, w, inst.name)
		switch {
		case err == nil:
			s.log.Debug("worker done", "worker", inst.name)
			return nil
		case ctx.Err() != nil:
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.Cause(ctx)) {
				s.log.Warn("worker stopped with an error", "worker", inst.name, "error", err)
			}
			return nil
		case s.policy == ResignOnError:
			return fmt.Errorf("%w: %q: %w", ErrWorkerFailed, inst.name, err)
		}
		if time.Since(started) >= backoffResetAfter {
			b.Reset()
		}
		d := b.NextBackOff()
		if d == backoff.Stop {
			return fmt.Errorf("%w: %q (backoff gave up): %w", ErrWorkerFailed, inst.name, err)
		}
		s.log.Error("worker failed; restarting", "worker", inst.name, "error", err, "restart_in", d)
		if !sleep(ctx, d) {
			return nil
		}
	}
}

// call runs w, turning a panic into an error wrapping ErrPanic, logged
// with its stack.
func (s *Supervisor) call(ctx context.Context, w Worker, name string) error {
	err := safe.Call(func() error { return w.Run(ctx) })
	p, ok := err.(*safe.Panic) // the worker's own panic, not one wrapped in an error it returned
	if !ok {
		return err
	}
	s.log.Error("worker panicked", "worker", name, "panic", p.Value, "stack", string(p.Stack))
	return fmt.Errorf("%w: %v", ErrPanic, p.Value)
}

// sleep waits for d; it reports false if ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
