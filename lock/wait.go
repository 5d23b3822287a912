package lock

import (
	"context"

	"github.com/cenkalti/backoff/v4"

	"github.com/consulelect/consulelect/internal/core/hold"
)

// waiting is what a mutex's and a semaphore's wait have in common: the
// entry they made in the line, the request they may have left unanswered,
// and the backoff after Consul errors.
type waiting struct {
	s      *Session
	queued string // the session whose entry (queue entry, contender key) we made
	late   string // the session of a request left unanswered (see Session.sweep)
	last   error  // the last Consul error
	b      backoff.BackOff
}

// backOff records err and waits before the next try; it returns the
// wait's error when err is permanent or ctx ended.
func (w *waiting) backOff(ctx context.Context, err error) error {
	w.last = err
	if isPermanent(err) || !hold.Sleep(ctx, w.s.clock, w.b.NextBackOff()) {
		return waitErr("wait", ctx, w.last)
	}
	return nil
}

// finish undoes what a wait that ended with err left: its entry in the
// line (dequeue; the turn stays ours until that is done) or its turn
// (leave), and sweeps turnKey with clean after a request left unanswered.
func (w *waiting) finish(err error, leave func(), dequeue func(string, func()),
	turnKey string, clean func(context.Context, string) error) {
	switch {
	case err == nil:
	case w.queued != "":
		dequeue(w.queued, leave)
	default:
		leave()
	}
	if w.late != "" {
		w.s.sweep(turnKey, w.late, clean)
	}
}
