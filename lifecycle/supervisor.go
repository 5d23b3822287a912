package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/hashicorp/go-hclog"
)

// A Supervisor runs a fixed set of workers for one term at a time. Its
// methods are safe for concurrent use, but Run runs one term at a time.
type Supervisor struct {
	workers    []Worker
	policy     Policy
	grace      time.Duration
	newBackoff func() backoff.BackOff
	log        hclog.Logger

	mu      sync.Mutex
	running bool                 // a Run is in progress
	slots   map[string]*instance // by worker name: the loop that runs it now
}

// NewSupervisor returns a Supervisor of workers. It refuses a nil worker
// or an empty or duplicate name with an error that wraps ErrInvalidWorker,
// and a bad option with one that wraps ErrInvalidOption.
func NewSupervisor(workers []Worker, opts ...Option) (*Supervisor, error) {
	seen := make(map[string]bool, len(workers))
	for i, w := range workers {
		switch {
		case w == nil:
			return nil, fmt.Errorf("%w: worker %d is nil", ErrInvalidWorker, i)
		case w.Name() == "":
			return nil, fmt.Errorf("%w: worker %d has an empty name", ErrInvalidWorker, i)
		case seen[w.Name()]:
			return nil, fmt.Errorf("%w: %q is registered twice", ErrInvalidWorker, w.Name())
		}
		seen[w.Name()] = true
	}
	s := &Supervisor{
		workers: append([]Worker(nil), workers...), policy: RestartOnError, grace: DefaultGrace,
		newBackoff: defaultBackoff, log: hclog.NewNullLogger(), slots: make(map[string]*instance),
	}
	for _, o := range opts {
		o(s)
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// result is what a worker's loop reports when it exits.
type result struct {
	inst *instance
	err  error // non-nil: the worker failed and the term must be given up
}

// Run runs the workers until ctx ends (or, under ResignOnError, one
// fails), then waits for them up to the grace period; see the package doc.
// It returns nil, an error wrapping ErrWorkerFailed, a *StragglersError,
// both joined, or ErrAlreadyRunning.
func (s *Supervisor) Run(ctx context.Context) error {
	if !s.begin() {
		return ErrAlreadyRunning
	}
	defer s.end()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	results := make(chan result, len(s.workers)) // one per loop: a straggler's send never blocks
	pending := make(map[*instance]bool, len(s.workers))
	for _, w := range s.workers {
		inst := newInstance(w.Name())
		pending[inst] = true
		go func() {
			defer close(inst.done) // last: then this goroutine has nothing left to do
			results <- result{inst: inst, err: s.loop(ctx, w, inst)}
		}()
	}
	failure := watch(ctx, results, pending)
	if failure != nil {
		cancel(failure)
	}
	s.await(results, pending)
	return s.outcome(failure)
}

// watch collects the loops' results while ctx lives. It returns the first
// failure, or nil when ctx ended or every loop exited.
func watch(ctx context.Context, results <-chan result, pending map[*instance]bool) error {
	for len(pending) > 0 {
		select {
		case r := <-results:
			delete(pending, r.inst)
			if r.err != nil {
				return r.err
			}
		case <-ctx.Done():
			return nil
		}
	}
	return nil
}

// await waits, once ctx is over, for the pending loops up to the grace
// period; then it marks those still running a worker as stragglers and
// waits for the others, which are only waiting on the ctx already done.
func (s *Supervisor) await(results <-chan result, pending map[*instance]bool) {
	if len(pending) == 0 {
		return
	}
	timer := time.NewTimer(s.grace)
	defer timer.Stop()
	for len(pending) > 0 {
		select {
		case r := <-results:
			delete(pending, r.inst)
		case <-timer.C:
			s.giveUp(pending)
		}
	}
}

// outcome is Run's error: failure and/or the stragglers still running.
func (s *Supervisor) outcome(failure error) error {
	left := s.stragglersError()
	if left == nil {
		return failure
	}
	for _, n := range left.Names {
		s.log.Error("worker still running after the grace period; giving up on it", "worker", n, "grace", s.grace)
	}
	if failure == nil {
		return left
	}
	return errors.Join(failure, left)
}

// stragglersError returns a *StragglersError naming the stragglers that
// still run, whose Done is closed when all of them have returned; nil if
// there are none.
func (s *Supervisor) stragglersError() *StragglersError {
	insts := s.stragglers()
	if len(insts) == 0 {
		return nil
	}
	names := make([]string, len(insts))
	dones := make([]<-chan struct{}, len(insts))
	for i, inst := range insts {
		names[i], dones[i] = inst.name, inst.done
	}
	return &StragglersError{Names: names, done: allDone(dones)}
}

func (s *Supervisor) begin() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		return false
	}
	s.running = true
	return true
}

func (s *Supervisor) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running = false
}
