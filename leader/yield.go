package leader

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// handOff is the reason of a term handed over to another candidate: it
// matches ErrHandedOff.
type handOff struct {
	to    Candidate
	cause string // causePriority, causeVersion, causeOperator
}

func (h handOff) Error() string {
	return fmt.Sprintf("%v to %s (%s)", ErrHandedOff, name(h.to), h.cause)
}

func (h handOff) Is(target error) bool { return target == ErrHandedOff }

// name is how a candidate is named in reasons and logs.
func name(c Candidate) string {
	if c.Identity != "" {
		return c.Identity
	}
	return c.ServiceID
}

// watchers are the goroutines a term runs besides its confirmations:
// the yield to better candidates and the handoff requests. stop waits
// for them.
type watchers struct{ wg sync.WaitGroup }

func (w *watchers) goRun(f func()) {
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		f()
	}()
}

func (w *watchers) wait() { w.wg.Wait() }

// yieldLoop hands term t over to the best-ranked candidate that ranks above
// this elector, once that one has been live for StabilityWindow and t has
// lasted YieldInterval. It returns when t ends. It reads only the line of
// live candidates the elector keeps anyway: no Consul traffic of its own.
func (e *Elector) yieldLoop(t *Term, line *candidates) {
	self := e.self()
	for {
		_, _, changed := line.snapshot()
		now := e.clock.Now()
		wake := t.started.Add(e.cfg.YieldInterval)
		if !now.Before(wake) {
			best, ok, next := line.better(now, e.cfg.StabilityWindow)
			if ok {
				h := handOff{to: best, cause: line.rank.cause(self, best)}
				if e.endGracefully(t, h) {
					e.log.Info("yielding to a better-ranked candidate", "to", name(best), "cause", h.cause,
						"priority", best.Priority, "version", best.Version)
				}
				return
			}
			wake = next
		}
		var timer <-chan struct{}
		stop := func() bool { return false }
		if !wake.IsZero() {
			fired, s := after(e.clock, wake.Sub(now))
			timer, stop = fired, s.Stop
		}
		select {
		case <-t.Done():
			stop()
			return
		case <-changed:
		case <-timer:
		}
		stop()
	}
}

// pauseAfter is how long to wait before campaigning again after a term
// that ended for reason. None after a handoff: the key went to a named
// candidate, and the others (this one too) wait preferWait before they try
// it; campaigning again at once keeps this elector a target that acquires
// when the next handoff names it.
func (e *Elector) pauseAfter(reason error) time.Duration {
	for _, r := range []error{ErrResigned, ErrLeaderWorkFailed} {
		if errors.Is(reason, r) {
			return e.cfg.ResignPause
		}
	}
	return 0
}
