package consulelectprom

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/leader"
	"github.com/consulelect/consulelect/lock"
)

// Metrics holds the collectors of one process, registered by New. Pass
// Leader to leader.WithMetrics and Lock to lock.WithMetrics; Watch each
// elector. A Metrics is safe for concurrent use.
type Metrics struct {
	status       *prometheus.GaugeVec
	started      *prometheus.CounterVec
	ended        *prometheus.CounterVec
	rtt          *prometheus.HistogramVec
	leaderErrors *prometheus.CounterVec
	handoffs     *prometheus.CounterVec
	stragglers   *prometheus.GaugeVec
	deadlines    *deadlines

	lockHeld     *prometheus.GaugeVec
	lockWait     *prometheus.HistogramVec
	lockReleases *prometheus.CounterVec
	lockErrors   *prometheus.CounterVec
	lockKey      func(string) string
}

// Option configures New.
type Option func(*options)

type options struct {
	rttBuckets, waitBuckets []float64
	lockKey                 func(string) string
}

// WithRTTBuckets sets the buckets (in seconds) of
// consulelect_leader_confirm_rtt_seconds. The default suits round trips
// of 1ms to 2s (DemoteAfter's default): 0.001, 0.0025, 0.005, 0.01, 0.025,
// 0.05, 0.1, 0.25, 0.5, 1, 1.5, 2.
func WithRTTBuckets(buckets []float64) Option {
	return func(o *options) { o.rttBuckets = buckets }
}

// WithWaitBuckets sets the buckets (in seconds) of
// consulelect_lock_wait_seconds. The default spans an uncontended lock
// (milliseconds) to long queues: 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1,
// 2.5, 5, 10, 30, 60, 300.
func WithWaitBuckets(buckets []float64) Option {
	return func(o *options) { o.waitBuckets = buckets }
}

// WithLockKeyLabel maps a lock's key (a semaphore's prefix) to the value
// of the lock metrics' key label. Use it when keys are per entity
// ("billing/charge-42"), so that the label has a bounded set of values
// ("billing/charge"). The default is the key itself. Gauges and counters
// of keys mapped to the same label add up.
func WithLockKeyLabel(f func(key string) string) Option {
	return func(o *options) { o.lockKey = f }
}

var (
	defaultRTTBuckets  = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 1.5, 2}
	defaultWaitBuckets = []float64{.001, .005, .01, .05, .1, .5, 1, 2.5, 5, 10, 30, 60, 300}
)

const namespace = "consulelect"

// New creates the collectors and registers them with reg (nil means
// prometheus.DefaultRegisterer). It fails if one is already registered,
// for instance by another New on the same reg; then it registers none. To
// add labels to every series, pass prometheus.WrapRegistererWith(labels,
// reg).
func New(reg prometheus.Registerer, opts ...Option) (*Metrics, error) {
	if reg == nil {
		reg = prometheus.DefaultRegisterer
	}
	o := options{rttBuckets: defaultRTTBuckets, waitBuckets: defaultWaitBuckets}
	for _, opt := range opts {
		opt(&o)
	}
	m := leaderMetrics(o)
	m.lockHeld, m.lockWait, m.lockReleases, m.lockErrors = lockMetrics(o)
	m.lockKey = o.lockKey
	if m.lockKey == nil {
		m.lockKey = func(key string) string { return key }
	}
	cs := []prometheus.Collector{m.status, m.started, m.ended, m.rtt, m.leaderErrors, m.handoffs, m.stragglers,
		m.deadlines, m.lockHeld, m.lockWait, m.lockReleases, m.lockErrors}
	if err := register(reg, cs); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers cs with reg, all or none.
func register(reg prometheus.Registerer, cs []prometheus.Collector) error {
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			return fmt.Errorf("consulelectprom: %w", err)
		}
	}
	return nil
}

// leaderMetrics returns Metrics with the elector's collectors.
func leaderMetrics(o options) *Metrics {
	return &Metrics{
		status: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "leader_election_master_status",
			Help: "Leadership of the key (label name): 1 while this process leads it, 0 while it is a standby.",
		}, []string{"name"}),
		started: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "leader", Name: "terms_started_total",
			Help: "Terms (stretches of leadership) begun on the key.",
		}, []string{"key"}),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "leader", Name: "terms_ended_total",
			Help: "Terms ended on the key, by reason (stopped, resigned, leader_work_failed, handed_off, session_invalidated, key_released, key_deleted, key_taken, lock_lost, consul_unreachable, other).",
		}, []string{"key", "reason"}),
		rtt: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "leader", Name: "confirm_rtt_seconds",
			Help:    "Round trip of each consistent read that confirmed a term; near DemoteAfter, a demotion is coming.",
			Buckets: o.rttBuckets,
		}, []string{"key"}),
		leaderErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "leader", Name: "consul_errors_total",
			Help: "Failed Consul requests of the elector, by class (permanent: retrying will not fix it; transient).",
		}, []string{"key", "class"}),
		handoffs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "leader", Name: "handoffs_total",
			Help: "Leadership handed over to another candidate, by cause (priority, version, operator, balance).",
		}, []string{"key", "cause"}),
		stragglers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "leader", Name: "stragglers",
			Help: "Leader work still running after its term ended (the key stays held: restart the process).",
		}, []string{"key"}),
		deadlines: &deadlines{
			desc: prometheus.NewDesc(prometheus.BuildFQName(namespace, "leader", "time_to_deadline_seconds"),
				"Time left until the term's deadline (DemoteAfter after the last confirming request was sent); 0 when not leading.",
				[]string{"key"}, nil),
			watched: map[string][]*leader.Elector{},
		},
	}
}

// lockMetrics returns the lock package's collectors.
func lockMetrics(o options) (*prometheus.GaugeVec, *prometheus.HistogramVec, *prometheus.CounterVec, *prometheus.CounterVec) {
	held := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace, Subsystem: "lock", Name: "held",
		Help: "Locks and semaphore slots (label key: a semaphore's prefix) held now.",
	}, []string{"key"})
	wait := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Subsystem: "lock", Name: "wait_seconds",
		Help:    "How long each successful Lock, TryLock, Acquire or TryAcquire took.",
		Buckets: o.waitBuckets,
	}, []string{"key"})
	releases := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "lock", Name: "releases_total",
		Help: "Holds ended, by reason (unlocked, closed, session_invalidated, key_released, key_deleted, key_taken, lock_lost, consul_unreachable, other).",
	}, []string{"key", "reason"})
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "lock", Name: "consul_errors_total",
		Help: "Failed Consul requests of lock sessions, by class (permanent: retrying will not fix it; transient).",
	}, []string{"class"})
	return held, wait, releases, errs
}

// Leader returns the functions to pass to leader.WithMetrics; every field
// is set. Several electors (a Group's, or on several keys) may share them.
func (m *Metrics) Leader() leader.Metrics {
	return leader.Metrics{
		TermStarted: func(key string, _ uint64) {
			m.status.WithLabelValues(key).Inc()
			m.started.WithLabelValues(key).Inc()
		},
		TermEnded: func(key string, reason error, _ time.Duration) {
			m.status.WithLabelValues(key).Dec()
			m.ended.WithLabelValues(key, reasonLabel(reason)).Inc()
		},
		Confirmed: func(key string, rtt time.Duration) {
			m.rtt.WithLabelValues(key).Observe(rtt.Seconds())
		},
		ConsulError: func(key string, _ error, permanent bool) {
			m.leaderErrors.WithLabelValues(key, class(permanent)).Inc()
		},
		HandedOff: func(key, _, cause string) { // not the target: identities are unbounded
			m.handoffs.WithLabelValues(key, cause).Inc()
		},
		Stragglers: func(key string, names []string) {
			m.stragglers.WithLabelValues(key).Set(float64(len(names)))
		},
	}
}

// Lock returns the functions to pass to lock.WithMetrics; every field is
// set. Several Sessions may share them.
func (m *Metrics) Lock() lock.Metrics {
	return lock.Metrics{
		Acquired: func(key string, _ uint64, waited time.Duration) {
			k := m.lockKey(key)
			m.lockHeld.WithLabelValues(k).Inc()
			m.lockWait.WithLabelValues(k).Observe(waited.Seconds())
		},
		Released: func(key string, reason error, _ time.Duration) {
			k := m.lockKey(key)
			m.lockHeld.WithLabelValues(k).Dec()
			m.lockReleases.WithLabelValues(k, reasonLabel(reason)).Inc()
		},
		ConsulError: func(_ error, permanent bool) {
			m.lockErrors.WithLabelValues(class(permanent)).Inc()
		},
	}
}

// Watch adds elector e to the gauges read at each scrape:
// consulelect_leader_time_to_deadline_seconds for e's key is the time left
// to the deadline of e.Term() (0 when not leading), and
// leader_election_master_status and consulelect_leader_stragglers report
// the key from now on (0 before e's first term) rather than from its first
// term. Call it once per elector, typically right after leader.New; it
// does not replace leader.WithMetrics(m.Leader()). Several electors on one
// key report the longest time left. unwatch removes e from the deadline
// gauge (the key's other series stay).
func (m *Metrics) Watch(e *leader.Elector) (unwatch func()) {
	key := e.Config().Key
	m.status.WithLabelValues(key)
	m.stragglers.WithLabelValues(key)
	m.deadlines.add(key, e)
	return sync.OnceFunc(func() { m.deadlines.remove(key, e) })
}

// deadlines collects consulelect_leader_time_to_deadline_seconds from
// the watched electors.
type deadlines struct {
	desc    *prometheus.Desc
	mu      sync.Mutex
	watched map[string][]*leader.Elector
}

func (d *deadlines) add(key string, e *leader.Elector) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.watched[key] = append(d.watched[key], e)
}

func (d *deadlines) remove(key string, e *leader.Elector) {
	d.mu.Lock()
	defer d.mu.Unlock()
	es := d.watched[key]
	for i, w := range es {
		if w == e {
			es = append(es[:i:i], es[i+1:]...)
			break
		}
	}
	if len(es) == 0 {
		delete(d.watched, key)
	} else {
		d.watched[key] = es
	}
}

// Describe implements prometheus.Collector.
func (d *deadlines) Describe(ch chan<- *prometheus.Desc) { ch <- d.desc }

// Collect implements prometheus.Collector.
func (d *deadlines) Collect(ch chan<- prometheus.Metric) {
	d.mu.Lock()
	watched := make(map[string][]*leader.Elector, len(d.watched))
	for k, es := range d.watched {
		watched[k] = es
	}
	d.mu.Unlock()
	for key, es := range watched {
		ch <- prometheus.MustNewConstMetric(d.desc, prometheus.GaugeValue, timeLeft(es).Seconds(), key)
	}
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
