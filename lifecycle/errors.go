package lifecycle

import (
	"errors"
	"slices"
	"strings"
)

var (
	// ErrInvalidWorker wraps the errors of NewSupervisor about a worker
	// (nil, empty or duplicate name); the message names the worker.
	ErrInvalidWorker = errors.New("lifecycle: invalid worker")
	// ErrInvalidOption wraps the errors of NewSupervisor about an option.
	ErrInvalidOption = errors.New("lifecycle: invalid option")
	// ErrWorkerFailed is wrapped by the error of Run when, under
	// ResignOnError (or when the backoff gave up), a worker failed.
	ErrWorkerFailed = errors.New("lifecycle: worker failed")
	// ErrStragglers matches the *StragglersError that Run returns when
	// workers still ran after the grace period.
	ErrStragglers = errors.New("lifecycle: workers still running after the grace period")
	// ErrAlreadyRunning is returned by Run while another Run is in progress.
	ErrAlreadyRunning = errors.New("lifecycle: supervisor already running")
	// ErrPanic is wrapped by the error made of a worker's recovered panic.
	ErrPanic = errors.New("lifecycle: worker panicked")
)

// A StragglersError names the workers that still ran when Run gave up
// waiting for them. errors.Is(err, ErrStragglers) matches it. Its
// Stragglers and Done methods are the protocol by which the elector learns
// that leader work returned while parts of it still run: it keeps the key
// (and its session) until Done is closed, and only then releases it.
type StragglersError struct {
	// Names of the workers still running, sorted.
	Names []string

	done <-chan struct{} // nil in a StragglersError not made by a Supervisor
}

// Error lists the stragglers.
func (e *StragglersError) Error() string {
	return ErrStragglers.Error() + ": " + strings.Join(e.Names, ", ")
}

// Stragglers returns (a copy of) Names.
func (e *StragglersError) Stragglers() []string { return slices.Clone(e.Names) }

// Done returns a channel that is closed once every straggler named has
// returned: its worker's Run returned, its goroutine ended, and it has left
// the Supervisor's Stragglers and Running. For an error made by Run it is
// the same channel on every call, and stays open while a straggler runs. A
// StragglersError not made by a Supervisor (a literal) has nothing to wait
// for: its Done returns a closed channel.
func (e *StragglersError) Done() <-chan struct{} {
	if e.done == nil {
		return closedChan()
	}
	return e.done
}

// Is reports whether target is ErrStragglers.
func (e *StragglersError) Is(target error) bool { return target == ErrStragglers }
