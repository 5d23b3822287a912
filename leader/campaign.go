package leader

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/internal/core/hold"
)

// foreignFlags reports whether the key is used by another protocol (a
// semaphore, say): flags other than a lock's (api.LockFlagValue, or 0 for a
// plain ?acquire).
func foreignFlags(pair *api.KVPair) bool {
	return pair != nil && pair.Flags != 0 && pair.Flags != api.LockFlagValue
}

// campaign follows the key with blocking queries (no polling) and tries to
// acquire it with session whenever it is free. Once acquired it leads the
// term until the term ends and is cleaned up. It returns when the session
// must be replaced (after a term, or when Consul dropped it) or ctx ended,
// with the pause to take before campaigning again.
func (e *Elector) campaign(ctx context.Context, session string, r *retrier, line *candidates) time.Duration {
	f := &follower{e: e, session: session, r: r, line: line,
		delay: &hold.LockDelayWait{LockDelay: e.cfg.LockDelay, Clock: e.clock}}
	for ctx.Err() == nil {
		pair, ok := f.read(ctx)
		if !ok {
			continue
		}
		note, free := f.observe(ctx, pair)
		if !free || e.cfg.Priority < 0 { // a negative priority never leads: follow only
			continue
		}
		d, ours := f.turn(ctx, note)
		if !ours {
			continue
		}
		if pause, over := f.try(ctx, note, d); over {
			return pause
		}
	}
	return 0
}

// follower is one campaign's view of the key.
type follower struct {
	e          *Elector
	session    string
	r          *retrier
	line       *candidates
	index      uint64 // for the next blocking query; 0 reads at once
	lastHolder string // the candidate ID of the last holder seen
	delay      *hold.LockDelayWait
}

// read waits for the key to change (FollowerWait at most); on an error it
// backs off and reports false.
func (f *follower) read(ctx context.Context) (*api.KVPair, bool) {
	pair, next, err := f.e.getKey(ctx, f.index, f.e.cfg.FollowerWait, false)
	if err != nil {
		f.r.wait(ctx, "watch key", err)
		return nil, false
	}
	f.index = next
	return pair, true
}

// observe applies a read of the key: it records the holder, and reports
// whether the key may be tried (free, or held by our own session after an
// acquire whose answer was lost), with the note its last holder left.
func (f *follower) observe(ctx context.Context, pair *api.KVPair) (releaseNote, bool) {
	e := f.e
	seen := e.clock.Now()
	h, held := holderOf(pair)
	if held || foreignFlags(pair) {
		f.delay.Taken()
	}
	switch {
	case held && pair.Session == f.session:
		// Our own earlier acquire whose answer was lost. Do not lead
		// from this (non-consistent) read: acquire again, which Consul
		// grants to the holding session, dated by its send time.
	case held && h.ServiceID == e.serviceID:
		// A session of ours that a failed cleanup left holding the key
		// (consul #2371's zombie): destroy it, so the key is freed.
		e.log.Warn("destroying a stale session of ours that holds the key", "session", pair.Session)
		if err := e.destroySession(ctx, pair.Session); err != nil {
			f.r.wait(ctx, "destroy stale session", err)
		}
		return releaseNote{}, false
	case held:
		e.state.setHolder(&h)
		f.lastHolder = h.ServiceID
		if foreignFlags(pair) {
			f.r.report("watch key", consulelect.ErrForeignKey) // the blocking query paces us
		} else {
			f.r.ok()
		}
		return releaseNote{}, false
	case foreignFlags(pair):
		e.state.setHolder(nil)
		f.r.report("watch key", consulelect.ErrForeignKey) // a semaphore or similar: never clobber it
		return releaseNote{}, false
	}
	e.state.setHolder(nil)
	f.delay.Free(seen)
	note := released(pair) // a released key keeps its last holder's value
	if note.ServiceID != "" {
		f.lastHolder = note.ServiceID
	}
	e.state.setHandTo(note.HandTo)
	return note, true
}

// turn waits for this elector's turn on the freed key (its place in line,
// or the balancer's) and returns that delay; ours is false when another
// candidate acquired the key meanwhile.
func (f *follower) turn(ctx context.Context, note releaseNote) (d time.Duration, ours bool) {
	e := f.e
	f.line.awaitFirst(ctx, e.clock, e.cfg.RequestTimeout)
	if bal := e.balancer(); bal != nil {
		d = bal.delay(e.cfg.Key, f.lastHolder, note.HandTo)
	} else {
		d = f.line.delay(f.lastHolder, note.HandTo)
	}
	if d <= 0 {
		return d, true
	}
	// Not first in line: wait our turn on the key. If the first acquires
	// meanwhile, the query returns and we do not try.
	p, next, err := e.getKey(ctx, f.index, d, false)
	if err != nil {
		return d, true
	}
	f.index = next
	if h, held := holderOf(p); held && p.Session != f.session {
		f.delay.Taken() // the next release starts a new wait
		e.state.setHolder(&h)
		f.lastHolder = h.ServiceID
		return d, false
	}
	return d, true
}

// try acquires the key (d: our delay in line) and acts on the answer
// (hold.Judge). over reports that the campaign is over, with the pause to
// take before the next: a term was led, the session is gone, or ctx ended.
func (f *follower) try(ctx context.Context, note releaseNote, d time.Duration) (pause time.Duration, over bool) {
	e := f.e
	sent := e.clock.Now()
	value := e.valueFor(f.why(note), sent)
	lock, res, err := e.acquire(ctx, f.session, value)
	step := hold.Judge(e.clock, sent, e.cfg.DemoteAfter, res, err)
	if step != hold.StepNotAcquired {
		// Read again at once: waiting on the old index would wait for a
		// change that may never come (a sole candidate).
		f.index = 0
	}
	switch step {
	case hold.StepRetry:
		return 0, !f.r.wait(ctx, "acquire", err)
	case hold.StepStale:
		// The session may still hold the key; the next acquire (Consul
		// grants the holding session) is dated afresh.
		e.log.Warn("acquire answered past its deadline; acquiring again", "took", e.clock.Now().Sub(sent))
	case hold.StepHold:
		f.r.ok()
		return e.lead(ctx, f.session, lock, value, sent, f.r, e.line()), true
	case hold.StepNewSession:
		e.log.Info("session lost while following; creating a new one", "session", f.session)
		f.r.wait(ctx, "acquire", errSessionGone) // sessions that keep dying are retried with backoff
		return 0, true
	case hold.StepLockDelay:
		// Every candidate waits for the same lock-delay's end and wakes
		// from a timer at about the same moment: keep our place in line
		// after it by at least preferWait when not first (d, a few
		// rankSteps, is within timer jitter under load).
		wait := f.delay.Next()
		if d > 0 {
			wait += max(d, preferWait)
		}
		e.log.Debug("lock-delay in force; acquiring again", "retry_in", wait)
		return 0, !sleep(ctx, e.clock, wait)
	}
	return 0, false
}

// why is the reason this elector will lead, for the key's value.
func (f *follower) why(note releaseNote) string {
	bal := f.e.balancer()
	switch {
	case note.HandTo == f.e.serviceID:
		return fmt.Sprintf("handed over by %s (%s)", note.ID, note.Cause)
	case bal != nil:
		return bal.why()
	default:
		return f.line.why(f.lastHolder)
	}
}
