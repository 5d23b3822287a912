package lock

import "time"

// Metrics receives what a Session measures, for the metrics system of
// your choice; set it with WithMetrics. Set only the fields you need: a nil
// field is not called. They are called from the Session's goroutines and
// from the callers of Lock, possibly concurrently: they must be safe for
// concurrent use, quick, and must not block.
//
// Useful series: locks held now (Acquired minus Released), the time spent
// waiting for a lock (contention), holds ended by reason (a loss is an
// alert: work was cut off), and Consul errors.
type Metrics struct {
	// Acquired is called when a lock or a semaphore slot is held, with its
	// fencing token and how long Lock, TryLock, Acquire or TryAcquire took.
	Acquired func(key string, token uint64, waited time.Duration)
	// Released is called when a hold is over and cleaned up (after Unlock,
	// or after a loss was cleaned up), with the reason (ErrUnlocked, or one
	// matching consulelect.ErrLockLost, consulelect.ErrConsulUnreachable or ErrClosed) and how long
	// it was held.
	Released func(key string, reason error, held time.Duration)
	// ConsulError is called for failed Consul requests of the Session's
	// own (its check, confirmations, background retries), with permanent
	// telling an error that retrying will not fix (ACL denied, an invalid
	// request, a key of another protocol) from a transient one.
	ConsulError func(err error, permanent bool)
}

// WithMetrics sets where the Session reports its measurements (default:
// nowhere). See Metrics.
func WithMetrics(m Metrics) Option { return func(s *Session) { s.metrics = m } }

func (m Metrics) acquired(key string, token uint64, waited time.Duration) {
	if m.Acquired != nil {
		m.Acquired(key, token, waited)
	}
}

func (m Metrics) released(key string, reason error, held time.Duration) {
	if m.Released != nil {
		m.Released(key, reason, held)
	}
}

func (m Metrics) consulError(err error) {
	if m.ConsulError != nil && err != nil {
		m.ConsulError(err, isPermanent(err))
	}
}
