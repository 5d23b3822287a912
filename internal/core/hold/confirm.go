package hold

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// MaxInflight bounds the confirming reads in flight for one hold (or one
// batch of holds).
const MaxInflight = 8

// ErrUnanswered: a confirming read got no answer before it was abandoned
// (a hung connection, or Consul holding it): retried on a fresh request.
var ErrUnanswered = errors.New("confirming read unanswered")

// Confirmer paces the consistent reads that confirm a hold (a term, a held
// lock, or a batch of them). A read is dated by its send time, so what matters is how old the
// newest answered read is:
//
//   - While reads succeed, one goes out every interval after the send time
//     of the newest read that succeeded: the newest confirmation is never
//     older than interval plus a round trip.
//   - When the newest read failed, another goes out gap later; when it is
//     overdue (unanswered after gap, or after twice the usual round trip if
//     that is longer, at most interval) another goes out then, on a request
//     of its own, so a hung request (a dead connection) delays nothing. A
//     slow but healthy Consul, whose round trips the confirmer has seen,
//     gets no extra reads.
//   - At most MaxInflight reads are in flight; when that many are, the
//     next waits until the oldest is interval old, and cancels it (closing
//     its connection). A read is abandoned timeout after its send time.
//
// So a leader rides out an outage of DemoteAfter - interval - gap - rtt,
// whenever it starts (docs/safety.md).
type Confirmer struct {
	Interval, Gap time.Duration
	Clock         Clock
	// Align, when set, moves each regular read back to a multiple of
	// interval after it: confirmers sharing it (a Group's batches) then
	// wake together instead of spread over the interval (the Go
	// scheduler's cost of 16 loops), and no read goes out later than
	// without it.
	Align time.Time
	// Start, when set, is the send time of a request that already
	// confirmed the hold (its acquire): the first read then goes out
	// Interval after it, not at once.
	Start time.Time
	// Timeout bounds one read from its send time (past it, its answer
	// could no longer confirm anything).
	Timeout func() time.Duration
	// Read sends one read, sent at sent, and applies its answer; it reports
	// the error of a failed read.
	Read func(ctx context.Context, sent time.Time) error
	// Failed and Recovered, if set, are told of failed reads and of the
	// first success after them (see report).
	Failed    func(err error, first bool)
	Recovered func()

	failing atomic.Bool // in a run of failed reads
}

// outcome is a finished read.
type outcome struct {
	id   uint64
	sent time.Time
	err  error
}

// flight is a read in flight.
type flight struct {
	id        uint64
	sent      time.Time
	cancel    context.CancelFunc
	cancelled bool
}

// schedule is the confirmer's view of its reads.
type schedule struct {
	inflight   []flight // oldest first
	newest     uint64   // id of the newest read sent
	newestSent time.Time
	newestDone bool      // the newest read has finished (it failed unless okSent is its send time)
	okSent     time.Time // send time of the newest read that succeeded
	rtt        time.Duration
}

// apply records a finished read.
func (s *schedule) apply(o outcome, now time.Time) {
	s.remove(o.id)
	if o.err == nil {
		if o.sent.After(s.okSent) {
			s.okSent = o.sent
		}
		s.rtt = (3*s.rtt + now.Sub(o.sent)) / 4 // a moving average of healthy round trips
	}
	if o.id == s.newest {
		s.newestDone = true
	}
}

// due is when the next read should go out.
func (c *Confirmer) due(s *schedule, now time.Time) time.Time {
	switch {
	case s.newest == 0 && s.okSent.IsZero():
		return now
	case !s.okSent.Before(s.newestSent): // the newest read succeeded
		next := s.okSent.Add(c.Interval)
		if !c.Align.IsZero() {
			off := next.Sub(c.Align)
			back := off % c.Interval // the floor to a multiple of interval, also before align
			if back < 0 {
				back += c.Interval
			}
			next = next.Add(-back)
		}
		return next
	case s.newestDone: // it failed: try again soon
		return s.newestSent.Add(c.Gap)
	default: // unanswered: another read once it is overdue
		return s.newestSent.Add(min(max(c.Gap, 2*s.rtt), c.Interval))
	}
}

// Run sends reads until ctx ends, then cancels those in flight and waits
// for them.
func (c *Confirmer) Run(ctx context.Context) {
	results := make(chan outcome, MaxInflight+1)
	s := &schedule{okSent: c.Start, newestSent: c.Start}
	defer func() {
		for _, f := range s.inflight {
			f.cancel()
		}
		for range s.inflight {
			<-results
		}
	}()
	for {
		now := c.Clock.Now()
		next := c.due(s, now)
		if !next.After(now) {
			if wait, ok := s.room(c.Interval, now); !ok {
				next = wait // full: wait for an answer or for the oldest to age
			} else {
				c.send(ctx, s, now, results)
				continue
			}
		}
		fired, timer := After(c.Clock, next.Sub(now))
		select {
		case o := <-results:
			s.apply(o, c.Clock.Now())
		case <-fired:
		case <-ctx.Done():
		}
		timer.Stop()
		if ctx.Err() != nil {
			return
		}
	}
}

// room reports whether a read may be sent now; when MaxInflight are live,
// it cancels the oldest if it is interval old, else it returns when that
// will be.
func (s *schedule) room(interval time.Duration, now time.Time) (time.Time, bool) {
	live := 0
	oldest := -1
	for i, f := range s.inflight {
		if !f.cancelled {
			live++
			if oldest < 0 {
				oldest = i
			}
		}
	}
	if live < MaxInflight {
		return time.Time{}, true
	}
	f := &s.inflight[oldest]
	if at := f.sent.Add(interval); now.Before(at) {
		return at, false
	}
	f.cancel() // its result still arrives and is removed
	f.cancelled = true
	return time.Time{}, true
}

func (c *Confirmer) send(ctx context.Context, s *schedule, now time.Time, results chan<- outcome) {
	s.newest++
	s.newestSent, s.newestDone = now, false
	rctx, cancel := context.WithTimeout(ctx, c.Timeout())
	s.inflight = append(s.inflight, flight{id: s.newest, sent: now, cancel: cancel})
	go func(id uint64) {
		err := c.Read(rctx, now)
		cancel()
		c.report(ctx, rctx, now, err)
		results <- outcome{id, now, err}
	}(s.newest)
}

// report hands a read's failure to Failed (first tells whether it begins
// a run of failures: an episode), a read abandoned by the confirmer being
// ErrUnanswered, and the end of an episode to Recovered. Nothing is
// reported once ctx has ended.
func (c *Confirmer) report(ctx, rctx context.Context, sent time.Time, err error) {
	switch {
	case ctx.Err() != nil:
	case err != nil:
		if rctx.Err() != nil { // abandoned: hung, not a Consul answer
			err = fmt.Errorf("%w (no answer within %v)", ErrUnanswered, c.Clock.Now().Sub(sent).Round(time.Millisecond))
		}
		if c.Failed != nil {
			c.Failed(err, !c.failing.Swap(true))
		}
	case c.failing.Swap(false) && c.Recovered != nil:
		c.Recovered()
	}
}

func (s *schedule) remove(id uint64) {
	for i, f := range s.inflight {
		if f.id == id {
			s.inflight = append(s.inflight[:i], s.inflight[i+1:]...)
			return
		}
	}
}
