package hooks

import (
	"context"
	"fmt"
	"time"

	"github.com/consulelect/consulelect/internal/core/safe"
)

// call runs f in a goroutine with a ctx derived from parent that has the
// timeout (WithTimeout) as deadline, and waits for it up to that deadline. If f
// returned by then, call returns f's error (or one wrapping ErrPanic) and a
// nil *late. If f still runs, call logs a warning and returns at once, with
// a *late for f and an error wrapping ErrHookTimeout; f's goroutine ends
// when f returns, and the *late's result receives f's error then.
func (r *runner) call(parent context.Context, name, phase string, f func(ctx context.Context) error) (*late, error) {
	ctx, cancel := context.WithTimeout(parent, r.timeout)
	defer cancel()                // past the deadline, ctx is done already
	result := make(chan error, 1) // f's goroutine never blocks on it
	go func() { result <- r.protect(name, phase, func() error { return f(ctx) }) }()

	timer := time.NewTimer(r.timeout)
	defer timer.Stop()
	select {
	case err := <-result:
		return nil, err
	case <-timer.C:
	}
	select {
	case err := <-result: // returned just in time
		return nil, err
	default:
	}
	r.log.Warn("hook still running after its timeout", "hook", name, "phase", phase, "timeout", r.timeout)
	return &late{name: name, phase: phase, result: result}, fmt.Errorf("%w after %s", ErrHookTimeout, r.timeout)
}

// protect calls f and turns a panic into an error wrapping ErrPanic,
// logged with its stack.
func (r *runner) protect(name, phase string, f func() error) error {
	err := safe.Call(f)
	p, ok := err.(*safe.Panic) // f's own panic, not one wrapped in an error it returned
	if !ok {
		return err
	}
	if name != "" {
		r.log.Error("hook panicked", "hook", name, "phase", phase, "panic", p.Value, "stack", string(p.Stack))
	} else {
		r.log.Error("leader work panicked", "panic", p.Value, "stack", string(p.Stack))
	}
	return fmt.Errorf("%w in %s: %v", ErrPanic, phase, p.Value)
}
