package hooks

import (
	"errors"
	"slices"
	"strings"
)

// stragglers is the protocol by which leader work tells the elector that
// it returned while parts of it still run: Stragglers names them, and Done
// is closed once all of them have returned. The elector keeps the key
// until then. The lifecycle supervisor's *StragglersError implements it.
type stragglers interface {
	error
	Stragglers() []string
	Done() <-chan struct{}
}

// stragglersError is the error of Lead when it returned at the deadline of
// a hook still running; it implements stragglers. Its Done is closed by
// the goroutine that finishes the term (see detach).
type stragglersError struct {
	errs  []error  // Lead's error had no hook been late (if any), and the timeout
	names []string // the late hook, then the body's stragglers
	done  chan struct{}
}

// newStragglersError returns the error for the late hook call named
// straggler, wrapping errs (nil entries dropped), and the body's
// stragglers error found in errs, if any, whose names it includes.
func newStragglersError(straggler string, errs []error) (*stragglersError, stragglers) {
	e := &stragglersError{names: []string{straggler}, done: make(chan struct{})}
	var body stragglers
	for _, err := range errs {
		if err == nil {
			continue
		}
		e.errs = append(e.errs, err)
		if body == nil && errors.As(err, &body) {
			e.names = append(e.names, body.Stragglers()...)
		}
	}
	return e, body
}

// Error lists the errors, then what still runs.
func (e *stragglersError) Error() string {
	msgs := make([]string, len(e.errs))
	for i, err := range e.errs {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "; ") + " (still running: " + strings.Join(e.names, ", ") + ")"
}

// Unwrap returns the errors wrapped, for errors.Is and errors.As.
func (e *stragglersError) Unwrap() []error { return slices.Clone(e.errs) }

// Stragglers names what still ran when Lead returned: the late hook, as
// `hook "name" OnElected` or `hook "name" OnDemoted`, then the body's
// stragglers.
func (e *stragglersError) Stragglers() []string { return slices.Clone(e.names) }

// Done is closed once the rest of Lead's sequence has finished.
func (e *stragglersError) Done() <-chan struct{} { return e.done }
