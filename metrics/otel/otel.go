package consulelectotel

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/leader"
	"github.com/consulelect/consulelect/lock"
)

// ScopeName is the instrumentation scope of the meter New takes from the
// MeterProvider.
const ScopeName = "github.com/consulelect/consulelect/metrics/otel"

// Metrics holds the instruments of one process, made by New. Pass Leader
// to leader.WithMetrics and Lock to lock.WithMetrics; Watch each elector.
// A Metrics is safe for concurrent use.
type Metrics struct {
	started      metric.Int64Counter
	ended        metric.Int64Counter
	rtt          metric.Float64Histogram
	leaderErrors metric.Int64Counter
	handoffs     metric.Int64Counter

	lockHeld     metric.Int64UpDownCounter
	lockWait     metric.Float64Histogram
	lockReleases metric.Int64Counter
	lockErrors   metric.Int64Counter
	lockKey      func(string) string

	// The observable gauges (status, stragglers, time to deadline) read
	// keys at each collection.
	status     metric.Int64ObservableGauge
	stragglers metric.Int64ObservableGauge
	deadline   metric.Float64ObservableGauge
	mu         sync.Mutex
	keys       map[string]*keyState
}

// keyState is what the gauges report for one election key.
type keyState struct {
	leading    int64 // terms begun minus terms ended
	stragglers int64
	watched    []*leader.Elector
}

// Option configures New.
type Option func(*options)

type options struct {
	rttBuckets, waitBuckets []float64
	lockKey                 func(string) string
}

// WithRTTBuckets sets the explicit bucket boundaries (in seconds) of
// consulelect.leader.confirm.duration. The default suits round trips of
// 1ms to 2s (DemoteAfter's default): 0.001, 0.0025, 0.005, 0.01, 0.025,
// 0.05, 0.1, 0.25, 0.5, 1, 1.5, 2. A View in the SDK overrides them.
func WithRTTBuckets(boundaries []float64) Option {
	return func(o *options) { o.rttBuckets = boundaries }
}

// WithWaitBuckets sets the explicit bucket boundaries (in seconds) of
// consulelect.lock.wait.duration. The default spans an uncontended lock
// (milliseconds) to long queues: 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1,
// 2.5, 5, 10, 30, 60, 300.
func WithWaitBuckets(boundaries []float64) Option {
	return func(o *options) { o.waitBuckets = boundaries }
}

// WithLockKeyLabel maps a lock's key (a semaphore's prefix) to the value
// of the lock instruments' key attribute. Use it when keys are per entity
// ("billing/charge-42"), so that the attribute has a bounded set of values
// ("billing/charge"). The default is the key itself. Counts of keys
// mapped to the same value add up.
func WithLockKeyLabel(f func(key string) string) Option {
	return func(o *options) { o.lockKey = f }
}

var (
	defaultRTTBuckets  = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 1.5, 2}
	defaultWaitBuckets = []float64{.001, .005, .01, .05, .1, .5, 1, 2.5, 5, 10, 30, 60, 300}
)

// New creates the instruments on the meter ScopeName of mp (the global
// one is otel.GetMeterProvider()) and registers the callback of its
// observable gauges. Its error is the first the meter returned.
func New(mp metric.MeterProvider, opts ...Option) (*Metrics, error) {
	if mp == nil {
		return nil, errors.New("consulelectotel: nil MeterProvider (use otel.GetMeterProvider() for the global one)")
	}
	o := options{rttBuckets: defaultRTTBuckets, waitBuckets: defaultWaitBuckets}
	for _, opt := range opts {
		opt(&o)
	}
	meter := mp.Meter(ScopeName)
	m := &Metrics{lockKey: o.lockKey, keys: map[string]*keyState{}}
	if m.lockKey == nil {
		m.lockKey = func(key string) string { return key }
	}
	errs := append(m.leaderInstruments(meter, o), m.lockInstruments(meter, o)...)
	if len(errs) == 0 {
		if _, err := meter.RegisterCallback(m.observe, m.status, m.stragglers, m.deadline); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("consulelectotel: %w", errs[0])
	}
	return m, nil
}

// instrumentErrs collects the errors of creating instruments.
type instrumentErrs []error

func (e *instrumentErrs) check(err error) {
	if err != nil {
		*e = append(*e, err)
	}
}

// leaderInstruments creates the elector's instruments.
func (m *Metrics) leaderInstruments(meter metric.Meter, o options) []error {
	var errs instrumentErrs
	check := errs.check
	var err error
	m.status, err = meter.Int64ObservableGauge("consulelect.leader.status", metric.WithUnit("1"),
		metric.WithDescription("Leadership of the key: 1 while this process leads it, 0 while it is a standby."))
	check(err)
	m.started, err = meter.Int64Counter("consulelect.leader.terms.started", metric.WithUnit("{term}"),
		metric.WithDescription("Terms (stretches of leadership) begun on the key."))
	check(err)
	m.ended, err = meter.Int64Counter("consulelect.leader.terms.ended", metric.WithUnit("{term}"),
		metric.WithDescription("Terms ended on the key, by reason."))
	check(err)
	m.rtt, err = meter.Float64Histogram("consulelect.leader.confirm.duration", metric.WithUnit("s"),
		metric.WithDescription("Round trip of each consistent read that confirmed a term; near DemoteAfter, a demotion is coming."),
		metric.WithExplicitBucketBoundaries(o.rttBuckets...))
	check(err)
	m.deadline, err = meter.Float64ObservableGauge("consulelect.leader.time_to_deadline", metric.WithUnit("s"),
		metric.WithDescription("Time left until the term's deadline (DemoteAfter after the last confirming request was sent); 0 when not leading."))
	check(err)
	m.leaderErrors, err = meter.Int64Counter("consulelect.leader.consul.errors", metric.WithUnit("{error}"),
		metric.WithDescription("Failed Consul requests of the elector, by class (permanent: retrying will not fix it; transient)."))
	check(err)
	m.handoffs, err = meter.Int64Counter("consulelect.leader.handoffs", metric.WithUnit("{handoff}"),
		metric.WithDescription("Leadership handed over to another candidate, by cause (priority, version, operator, balance)."))
	check(err)
	m.stragglers, err = meter.Int64ObservableGauge("consulelect.leader.stragglers", metric.WithUnit("{worker}"),
		metric.WithDescription("Leader work still running after its term ended (the key stays held: restart the process)."))
	check(err)
	return errs
}

// lockInstruments creates the lock package's instruments.
func (m *Metrics) lockInstruments(meter metric.Meter, o options) []error {
	var errs instrumentErrs
	check := errs.check
	var err error
	m.lockHeld, err = meter.Int64UpDownCounter("consulelect.lock.held", metric.WithUnit("{lock}"),
		metric.WithDescription("Locks and semaphore slots (key: a semaphore's prefix) held now."))
	check(err)
	m.lockWait, err = meter.Float64Histogram("consulelect.lock.wait.duration", metric.WithUnit("s"),
		metric.WithDescription("How long each successful Lock, TryLock, Acquire or TryAcquire took."),
		metric.WithExplicitBucketBoundaries(o.waitBuckets...))
	check(err)
	m.lockReleases, err = meter.Int64Counter("consulelect.lock.releases", metric.WithUnit("{release}"),
		metric.WithDescription("Holds ended, by reason."))
	check(err)
	m.lockErrors, err = meter.Int64Counter("consulelect.lock.consul.errors", metric.WithUnit("{error}"),
		metric.WithDescription("Failed Consul requests of lock sessions, by class (permanent: retrying will not fix it; transient)."))
	check(err)
	return errs
}

// Leader returns the functions to pass to leader.WithMetrics; every field
// is set. Several electors (a Group's, or on several keys) may share them.
func (m *Metrics) Leader() leader.Metrics {
	return leader.Metrics{
		TermStarted: func(key string, _ uint64) {
			m.update(key, func(s *keyState) { s.leading++ })
			m.started.Add(context.Background(), 1, metric.WithAttributes(attribute.String("key", key)))
		},
		TermEnded: func(key string, reason error, _ time.Duration) {
			m.update(key, func(s *keyState) { s.leading-- })
			m.ended.Add(context.Background(), 1, metric.WithAttributes(attribute.String("key", key),
				attribute.String("reason", reasonLabel(reason))))
		},
		Confirmed: func(key string, rtt time.Duration) {
			m.rtt.Record(context.Background(), rtt.Seconds(), metric.WithAttributes(attribute.String("key", key)))
		},
		ConsulError: func(key string, _ error, permanent bool) {
			m.leaderErrors.Add(context.Background(), 1, metric.WithAttributes(attribute.String("key", key),
				attribute.String("class", class(permanent))))
		},
		HandedOff: func(key, _, cause string) { // not the target: identities are unbounded
			m.handoffs.Add(context.Background(), 1, metric.WithAttributes(attribute.String("key", key),
				attribute.String("cause", cause)))
		},
		Stragglers: func(key string, names []string) {
			m.update(key, func(s *keyState) { s.stragglers = int64(len(names)) })
		},
	}
}

// Lock returns the functions to pass to lock.WithMetrics; every field is
// set. Several Sessions may share them.
func (m *Metrics) Lock() lock.Metrics {
	return lock.Metrics{
		Acquired: func(key string, _ uint64, waited time.Duration) {
			attrs := metric.WithAttributes(attribute.String("key", m.lockKey(key)))
			m.lockHeld.Add(context.Background(), 1, attrs)
			m.lockWait.Record(context.Background(), waited.Seconds(), attrs)
		},
		Released: func(key string, reason error, _ time.Duration) {
			k := m.lockKey(key)
			m.lockHeld.Add(context.Background(), -1, metric.WithAttributes(attribute.String("key", k)))
			m.lockReleases.Add(context.Background(), 1, metric.WithAttributes(attribute.String("key", k),
				attribute.String("reason", reasonLabel(reason))))
		},
		ConsulError: func(_ error, permanent bool) {
			m.lockErrors.Add(context.Background(), 1, metric.WithAttributes(attribute.String("class", class(permanent))))
		},
	}
}

// Watch adds elector e to the gauges read at each collection:
// consulelect.leader.time_to_deadline for e's key is the time left to the
// deadline of e.Term() (0 when not leading), and consulelect.leader.status
// and consulelect.leader.stragglers report the key from now on (0 before
// e's first term) rather than from its first term. Call it once per
// elector, typically right after leader.New; it does not replace
// leader.WithMetrics(m.Leader()). Several electors on one key report the
// longest time left. unwatch removes e from the deadline gauge (the key's
// other gauges stay).
func (m *Metrics) Watch(e *leader.Elector) (unwatch func()) {
	key := e.Config().Key
	m.update(key, func(s *keyState) { s.watched = append(s.watched, e) })
	return sync.OnceFunc(func() {
		m.update(key, func(s *keyState) {
			for i, w := range s.watched {
				if w == e {
					s.watched = append(s.watched[:i:i], s.watched[i+1:]...)
					return
				}
			}
		})
	})
}

// update applies f to key's state, creating it.
func (m *Metrics) update(key string, f func(*keyState)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.keys[key]
	if s == nil {
		s = &keyState{}
		m.keys[key] = s
	}
	f(s)
}

// observe is the callback of the observable gauges.
func (m *Metrics) observe(_ context.Context, o metric.Observer) error {
	type row struct {
		key                 string
		leading, stragglers int64
		watched             []*leader.Elector
	}
	m.mu.Lock()
	rows := make([]row, 0, len(m.keys))
	for k, s := range m.keys {
		rows = append(rows, row{k, s.leading, s.stragglers, s.watched})
	}
	m.mu.Unlock()
	for _, r := range rows { // e.Term() outside m.mu
		attrs := metric.WithAttributes(attribute.String("key", r.key))
		o.ObserveInt64(m.status, r.leading, attrs)
		o.ObserveInt64(m.stragglers, r.stragglers, attrs)
		if len(r.watched) > 0 {
			o.ObserveFloat64(m.deadline, timeLeft(r.watched).Seconds(), attrs)
		}
	}
	return nil
}

// timeLeft is the longest time left to the deadline of the electors'
// terms, 0 if none leads.
func timeLeft(es []*leader.Elector) time.Duration {
	var left time.Duration
	for _, e := range es {
		if t := e.Term(); t != nil {
			left = max(left, time.Until(t.Deadline()))
		}
	}
	return left
}

func class(permanent bool) string {
	if permanent {
		return "permanent"
	}
	return "transient"
}

// reasonLabels label a hold's end reason, a term's or a held lock's: one
// table, since both packages report the shared reasons with the same
// errors. The ways of losing the lock come before ErrLockLost, which each
// of them matches too.
var reasonLabels = []struct {
	err   error
	label string
}{
	{leader.ErrStopped, "stopped"},
	{leader.ErrResigned, "resigned"},
	{leader.ErrLeaderWorkFailed, "leader_work_failed"},
	{leader.ErrHandedOff, "handed_off"},
	{lock.ErrUnlocked, "unlocked"},
	{lock.ErrClosed, "closed"},
	{consulelect.ErrSessionInvalidated, "session_invalidated"},
	{consulelect.ErrKeyReleased, "key_released"},
	{consulelect.ErrKeyDeleted, "key_deleted"},
	{consulelect.ErrKeyTaken, "key_taken"},
	{consulelect.ErrLockLost, "lock_lost"},
	{consulelect.ErrConsulUnreachable, "consul_unreachable"},
}

// reasonLabel is the label of a term's or a held lock's end reason.
func reasonLabel(err error) string {
	for _, r := range reasonLabels {
		if errors.Is(err, r.err) {
			return r.label
		}
	}
	return "other"
}
