package lifecycle

import (
	"cmp"
	"context"
	"slices"
)

// An instance is one Run's loop for one worker. The loop that holds a
// worker's slot is the only one that may run it; it releases the slot when
// it exits, so that a later Run's loop never runs a worker alongside a
// straggler of an earlier one.
type instance struct {
	name      string
	done      chan struct{} // closed as the last act of the loop's goroutine, after release
	straggler bool          // a Run gave up waiting for it; guarded by Supervisor.mu
}

func newInstance(name string) *instance {
	return &instance{name: name, done: make(chan struct{})}
}

// acquire takes inst's slot, first waiting for an earlier holder (a
// straggler) to release it. It reports false if ctx ended first.
func (s *Supervisor) acquire(ctx context.Context, inst *instance) bool {
	for {
		s.mu.Lock()
		if ctx.Err() != nil {
			s.mu.Unlock()
			return false
		}
		prev := s.slots[inst.name]
		if prev == nil {
			s.slots[inst.name] = inst
			s.mu.Unlock()
			return true
		}
		s.mu.Unlock()
		s.log.Warn("worker still running from an earlier term; waiting for it to return", "worker", inst.name)
		select {
		case <-prev.done:
		case <-ctx.Done():
			return false
		}
	}
}

// release frees inst's slot; a straggler thereby leaves Stragglers. The
// loop's goroutine closes inst.done after it (see Run).
func (s *Supervisor) release(inst *instance) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.slots[inst.name] == inst {
		delete(s.slots, inst.name)
	}
}

// giveUp marks the pending loops that hold their slot (they are in, or
// about to leave, the worker's code) as stragglers and stops waiting for
// them; the others (waiting for an earlier holder) stay pending.
func (s *Supervisor) giveUp(pending map[*instance]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for inst := range pending {
		if s.slots[inst.name] == inst {
			inst.straggler = true
			delete(pending, inst)
		}
	}
}

// Stragglers returns the sorted names of the workers that a Run gave up
// waiting for and that still run; a worker leaves the list when it
// returns. Empty when none.
func (s *Supervisor) Stragglers() []string {
	var names []string
	for _, inst := range s.stragglers() {
		names = append(names, inst.name)
	}
	return names
}

// stragglers returns, sorted by name, the instances that a Run gave up
// waiting for and that still hold their slot.
func (s *Supervisor) stragglers() []*instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	var insts []*instance
	for _, inst := range s.slots {
		if inst.straggler {
			insts = append(insts, inst)
		}
	}
	slices.SortFunc(insts, func(a, b *instance) int { return cmp.Compare(a.name, b.name) })
	return insts
}

// Running returns the sorted names of the workers whose goroutine runs
// now: in the worker's Run or waiting to restart it, including
// stragglers.
func (s *Supervisor) Running() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.slots))
	for name := range s.slots {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
