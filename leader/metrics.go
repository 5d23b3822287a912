package leader

import "time"

// Metrics receives what an Elector measures, for the metrics system of
// your choice (Prometheus, OpenTelemetry, go-metrics, expvar); set it with
// WithMetrics. Set only the fields you need: a nil field is not called. The
// elector calls them from its own goroutines, possibly concurrently (a
// Group confirms its terms in parallel batches): they must be safe for
// concurrent use, quick, and must not block.
//
// Useful series: a leader gauge (1 from TermStarted to TermEnded), terms
// ended by reason, the confirmation round trip (when it nears DemoteAfter,
// a demotion is coming: alert on it), Consul errors by permanence, and
// stragglers (alert on them: the process needs a restart).
type Metrics struct {
	// TermStarted is called when a term begins, before leader work starts;
	// token is the term's fencing token.
	TermStarted func(key string, token uint64)
	// TermEnded is called when a term ends (before leader work has
	// stopped), with the reason and how long the term lasted.
	TermEnded func(key string, reason error, held time.Duration)
	// Confirmed is called for each answer from Consul that confirms a term,
	// with the round trip of the request (a consistent read): after it, the
	// term's deadline is DemoteAfter minus that round trip away.
	Confirmed func(key string, rtt time.Duration)
	// ConsulError is called for each failed Consul request (a run of failed
	// or unanswered confirmations counts once), with permanent =
	// IsPermanent(err).
	ConsulError func(key string, err error, permanent bool)
	// HandedOff is called when a leader hands the key over to another
	// candidate (ErrHandedOff), with the candidate's identity and the cause:
	// "priority" or "version" (it ranks above the leader), "operator"
	// (Elector.HandOff, RequestHandOff) or "balance" (GroupConfig.Balance).
	HandedOff func(key, to, cause string)
	// Stragglers is called when leader work is declared a straggler (still
	// running StopTimeout after its term ended: the key stays held and no
	// replica can lead) with the names of what still runs, and with nil
	// once it has all returned.
	Stragglers func(key string, names []string)
}

// WithMetrics sets where the elector reports its measurements (default:
// nowhere). See Metrics.
func WithMetrics(m Metrics) Option { return func(e *Elector) { e.metrics = m } }

// The elector's calls; each skips a nil field.

func (m Metrics) termStarted(key string, token uint64) {
	if m.TermStarted != nil {
		m.TermStarted(key, token)
	}
}

func (m Metrics) termEnded(key string, reason error, held time.Duration) {
	if m.TermEnded != nil {
		m.TermEnded(key, reason, held)
	}
}

func (m Metrics) confirmed(key string, rtt time.Duration) {
	if m.Confirmed != nil {
		m.Confirmed(key, rtt)
	}
}

func (m Metrics) consulError(key string, err error, permanent bool) {
	if m.ConsulError != nil {
		m.ConsulError(key, err, permanent)
	}
}

func (m Metrics) handedOff(key, to, cause string) {
	if m.HandedOff != nil {
		m.HandedOff(key, to, cause)
	}
}

func (m Metrics) stragglers(key string, names []string) {
	if m.Stragglers != nil {
		m.Stragglers(key, names)
	}
}
