package leader

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/hashicorp/go-hclog"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/internal/core/hold"
)

// IsPermanent reports whether err is a Consul error that retrying will not
// fix: ACL denied, a malformed request, a key used by another protocol.
// Everything else (connection refused, timeouts, 429, 5xx, "No cluster
// leader") is transient.
func IsPermanent(err error) bool {
	return errors.Is(err, consulelect.ErrPermanent) || errors.Is(err, consulelect.ErrForeignKey) || hold.PermanentStatus(err)
}

// defaultBackoff is the backoff for transient errors: exponential from
// 100ms to 2s with ±50% jitter and no overall limit (backoff/v4's default
// MaxElapsedTime of 15 minutes would end a campaign).
func defaultBackoff() backoff.BackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 100 * time.Millisecond
	b.MaxInterval = 2 * time.Second
	b.RandomizationFactor = 0.5
	b.Multiplier = 2
	b.MaxElapsedTime = 0
	b.Reset()
	return b
}

// retrier paces retries after Consul errors and reports them: transient
// errors with backoff (reset after a success), permanent ones slowly and
// loudly.
type retrier struct {
	b         backoff.BackOff
	permanent time.Duration
	clock     clock
	log       hclog.Logger
	note      func(error) // records an error (Elector.noteError)
	state     *state
	lastPerm  string
}

// ok records a success: the backoff restarts and the error is cleared.
func (r *retrier) ok() {
	r.b.Reset()
	r.lastPerm = ""
	r.state.setError(nil, time.Time{})
}

// wait records err, logs it and sleeps before the next try. It reports
// false if ctx ended first.
func (r *retrier) wait(ctx context.Context, op string, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	d := r.b.NextBackOff()
	if IsPermanent(err) || d == backoff.Stop {
		d = r.permanent
	}
	r.record(op, err, d)
	return sleep(ctx, r.clock, d)
}

// report records err and logs it without sleeping, for errors where a
// blocking query paces the next try.
func (r *retrier) report(op string, err error) { r.record(op, err, 0) }

func (r *retrier) record(op string, err error, retryIn time.Duration) {
	err = fmt.Errorf("%s: %w", op, err)
	r.note(err)
	if !IsPermanent(err) {
		r.log.Warn("consul error; retrying", "error", err, "retry_in", retryIn)
		return
	}
	if msg := err.Error(); msg != r.lastPerm { // loud, but once per distinct error
		r.lastPerm = msg
		r.log.Error("permanent consul error", "error", err, "retry_in", retryIn)
	}
}
