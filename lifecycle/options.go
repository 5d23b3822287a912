package lifecycle

import (
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/hashicorp/go-hclog"
)

// DefaultGrace is how long Run waits for workers after its ctx ended. Ten
// seconds are ample for a worker that watches its ctx to finish a write
// and return, and equal the elector's default StopTimeout (after which the
// elector names leader work still running a straggler). Keep the grace
// below the elector's StopTimeout so that stragglers are named by worker
// in its status rather than as "leader work".
const DefaultGrace = 10 * time.Second

// backoffResetAfter: a run that lasted this long is taken as healthy, and
// the backoff starts over for its next failure.
const backoffResetAfter = time.Minute

// Policy says what a worker's error does.
type Policy int

const (
	// RestartOnError restarts a failed worker after a backoff (default).
	RestartOnError Policy = iota
	// ResignOnError stops all workers and makes Run return the error, so
	// that the elector gives the term up.
	ResignOnError
)

// String names the policy.
func (p Policy) String() string {
	switch p {
	case RestartOnError:
		return "RestartOnError"
	case ResignOnError:
		return "ResignOnError"
	default:
		return fmt.Sprintf("Policy(%d)", int(p))
	}
}

// defaultBackoff is the restart backoff: exponential from 100ms to 10s with
// ±50% jitter (so that workers failing together do not retry in step) and
// no overall limit (backoff/v4's default MaxElapsedTime of 15 minutes would
// give a worker up). It starts over after a run that lasted a minute.
func defaultBackoff() backoff.BackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 100 * time.Millisecond
	b.MaxInterval = 10 * time.Second
	b.RandomizationFactor = 0.5
	b.Multiplier = 2
	b.MaxElapsedTime = 0
	b.Reset()
	return b
}

// An Option configures a Supervisor.
type Option func(*Supervisor)

// WithPolicy sets what a worker's error does (default RestartOnError).
func WithPolicy(p Policy) Option { return func(s *Supervisor) { s.policy = p } }

// WithGrace sets how long Run waits for workers after its ctx ended
// (default DefaultGrace); it must be positive.
func WithGrace(d time.Duration) Option { return func(s *Supervisor) { s.grace = d } }

// WithBackoff sets the factory of restart backoffs, called once per worker
// per Run (default, and for nil: exponential from 100ms to 10s with ±50%
// jitter, no overall limit, starting over after a run of a minute). A
// backoff that returns backoff.Stop fails the worker as under
// ResignOnError.
func WithBackoff(f func() backoff.BackOff) Option {
	return func(s *Supervisor) {
		if f != nil {
			s.newBackoff = f
		}
	}
}

// WithLogger sets the logger (default: none; nil means none). Workers are
// logged with the key "worker".
func WithLogger(l hclog.Logger) Option {
	return func(s *Supervisor) {
		if l == nil {
			l = hclog.NewNullLogger()
		}
		s.log = l
	}
}

// validate checks the options of s.
func (s *Supervisor) validate() error {
	switch {
	case s.policy != RestartOnError && s.policy != ResignOnError:
		return fmt.Errorf("%w: unknown policy %s", ErrInvalidOption, s.policy)
	case s.grace <= 0:
		return fmt.Errorf("%w: grace (%s) must be positive", ErrInvalidOption, s.grace)
	}
	return nil
}
