package leader

import "time"

// Metrics receives what an Elector measures, for the metrics system of
// your choice (Prometheus, OpenTelemetry, go-metrics, expvar); set it with
// WithMetrics. The elector calls it from its own goroutines, possibly
// concurrently (a Group confirms its terms in parallel batches): calls must
// be safe for concurrent use, quick, and must not block. Embed NopMetrics
// to implement only some of the methods.
//
// Useful series: a leader gauge (1 from TermStarted to TermEnded), terms
// ended by reason, the confirmation round trip (when it nears DemoteAfter,
// a demotion is coming: alert on it), and Consul errors by permanence.
type Metrics interface {
	// TermStarted is called when a term begins, before leader work starts;
	// token is the term's fencing token.
	TermStarted(key string, token uint64)
	// TermEnded is called when a term ends (before leader work has
	// stopped), with the reason and how long the term lasted.
	TermEnded(key string, reason error, held time.Duration)
	// Confirmed is called for each answer from Consul that confirms a term,
	// with the round trip of the request (a consistent read): after it, the
	// term's deadline is DemoteAfter minus that round trip away.
	Confirmed(key string, rtt time.Duration)
	// ConsulError is called for each failed Consul request, with
	// permanent = IsPermanent(err).
	ConsulError(key string, err error, permanent bool)
	// Stragglers is called when leader work is declared a straggler (still
	// running StopTimeout after its term ended: the key stays held and no
	// replica can lead) with the names of what still runs, and with nil
	// once it has all returned. Alert on it: the process needs a restart.
	Stragglers(key string, names []string)
}

// NopMetrics is a Metrics that records nothing. Embed it in a Metrics of
// your own to implement only the methods you need.
type NopMetrics struct{}

// TermStarted implements Metrics.
func (NopMetrics) TermStarted(string, uint64) {}

// TermEnded implements Metrics.
func (NopMetrics) TermEnded(string, error, time.Duration) {}

// Confirmed implements Metrics.
func (NopMetrics) Confirmed(string, time.Duration) {}

// ConsulError implements Metrics.
func (NopMetrics) ConsulError(string, error, bool) {}

// Stragglers implements Metrics.
func (NopMetrics) Stragglers(string, []string) {}

// WithMetrics sets where the elector reports its measurements (default:
// nowhere). See Metrics.
func WithMetrics(m Metrics) Option {
	return func(e *Elector) {
		if m != nil {
			e.metrics = m
		}
	}
}
