package leader

import (
	"context"
	"errors"
	"time"
)

// maxInflight bounds the confirming reads in flight for one term (or one
// Group batch); a new read beyond it cancels the oldest, whose connection
// is then closed.
const maxInflight = 8

// confirmer paces the consistent reads that confirm a term (or a batch of
// terms): one every interval while they succeed, and, while the newest
// read has failed or is still unanswered after gap, another one every gap,
// each on its own request, so that neither a failed nor a hung request
// (a dead connection) delays the next try. A read is dated by its send
// time, so the newest confirmation is never older than interval plus a
// round trip while Consul answers, and a leader rides out an outage of
// DemoteAfter - interval - gap - rtt, whenever it starts (docs/safety.md).
type confirmer struct {
	interval, gap time.Duration
	clock         clock
	// timeout bounds one read from its send time (past it, its answer
	// could no longer confirm anything).
	timeout func() time.Duration
	// read sends one read, sent at sent, and applies its answer; it reports
	// the error of a failed read.
	read func(ctx context.Context, sent time.Time) error
}

// outcome is a finished read.
type outcome struct {
	id  uint64
	err error
}

// flight is a read in flight.
type flight struct {
	id        uint64
	cancel    context.CancelFunc
	cancelled bool
}

// run sends reads until ctx ends, then cancels those in flight and waits
// for them.
func (c *confirmer) run(ctx context.Context) {
	results := make(chan outcome, maxInflight+1)
	var inflight []flight // oldest first
	var newest uint64     // id of the newest read sent
	var newestSent time.Time
	state := errFailed // of the newest read: pending, nil (ok) or failed
	defer func() {
		for _, f := range inflight {
			f.cancel()
		}
		for range inflight {
			<-results
		}
	}()
	next := c.clock.Now()
	for {
		if !c.sleepUntil(ctx, next, results, func(o outcome) {
			inflight = remove(inflight, o.id)
			if o.id == newest {
				state = o.err
				if o.err != nil {
					state = errFailed
				}
			}
		}) {
			return
		}
		// Due: send a read.
		now := c.clock.Now()
		if !now.Before(next) {
			cancelOldest(inflight) // its result still arrives and is removed
			newest++
			newestSent = now
			state = errPending
			rctx, cancel := context.WithTimeout(ctx, c.timeout())
			inflight = append(inflight, flight{id: newest, cancel: cancel})
			go func(id uint64, sent time.Time) {
				err := c.read(rctx, sent)
				cancel()
				results <- outcome{id, err}
			}(newest, now)
		}
		switch state {
		case nil:
			next = newestSent.Add(c.interval)
		default: // pending or failed: try again soon, on a fresh request
			next = later(newestSent.Add(c.gap), c.clock.Now())
			if state == errPending {
				next = newestSent.Add(c.gap)
			}
		}
	}
}

// sleepUntil waits until t, handing every result that arrives to apply.
// It returns early, true, after a result that may change the schedule
// (the newest read finished), and false if ctx ended.
func (c *confirmer) sleepUntil(ctx context.Context, t time.Time, results <-chan outcome, apply func(outcome)) bool {
	for {
		d := t.Sub(c.clock.Now())
		if d <= 0 {
			return true
		}
		fired := make(chan struct{})
		timer := c.clock.AfterFunc(d, func() { close(fired) })
		select {
		case <-fired:
			return true
		case o := <-results:
			timer.Stop()
			apply(o)
			return true // the caller recomputes when the next read is due
		case <-ctx.Done():
			timer.Stop()
			return false
		}
	}
}

// cancelOldest cancels the oldest read not yet cancelled if maxInflight
// are live.
func cancelOldest(fs []flight) {
	live := 0
	for _, f := range fs {
		if !f.cancelled {
			live++
		}
	}
	for i := range fs {
		if live < maxInflight {
			return
		}
		if !fs[i].cancelled {
			fs[i].cancel()
			fs[i].cancelled = true
			live--
		}
	}
}

func remove(fs []flight, id uint64) []flight {
	for i, f := range fs {
		if f.id == id {
			return append(fs[:i], fs[i+1:]...)
		}
	}
	return fs
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// States of the newest read besides nil (answered).
var (
	errPending = errors.New("pending")
	errFailed  = errors.New("failed")
)
