package hooks

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"
)

// call runs f in a goroutine with a ctx derived from parent that has the
// Runner's timeout as deadline, and waits for it to return, however long
// it takes: past the deadline it logs a warning and keeps waiting. The
// error is f's, or one wrapping ErrPanic; if f returned after its
// deadline, it is wrapped in (or is) an error wrapping ErrHookTimeout.
func (r *Runner) call(parent context.Context, name, phase string, f func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(parent, r.timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.protect(name, phase, func() error { return f(ctx) }) }()

	timer := time.NewTimer(r.timeout)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
	}
	select {
	case err := <-done: // returned just in time
		return err
	default:
	}
	r.log.Warn("hook still running after its timeout; waiting for it", "hook", name, "phase", phase, "timeout", r.timeout)
	err := <-done
	if err == nil {
		return fmt.Errorf("%w after %s", ErrHookTimeout, r.timeout)
	}
	return fmt.Errorf("%w after %s: %w", ErrHookTimeout, r.timeout, err)
}

// protect calls f and turns a panic into an error wrapping ErrPanic,
// logged with its stack.
func (r *Runner) protect(name, phase string, f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			if name != "" {
				r.log.Error("hook panicked", "hook", name, "phase", phase, "panic", p, "stack", string(debug.Stack()))
			} else {
				r.log.Error("leader work panicked", "panic", p, "stack", string(debug.Stack()))
			}
			err = fmt.Errorf("%w in %s: %v", ErrPanic, phase, p)
		}
	}()
	return f()
}
