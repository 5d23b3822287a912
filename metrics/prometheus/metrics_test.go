package consulelectprom_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/leader"
	"github.com/consulelect/consulelect/lock"
	consulelectprom "github.com/consulelect/consulelect/metrics/prometheus"
)

// replica is one elector with its own registry, as if in its own process.
type replica struct {
	e   *leader.Elector
	reg *prometheus.Registry
}

func startReplica(t *testing.T, client *api.Client, key, id string) *replica {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := consulelectprom.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	e, err := leader.New(client, leader.Config{Key: key, Identity: id}, leader.WithMetrics(m.Leader()))
	if err != nil {
		t.Fatal(err)
	}
	m.Watch(e)
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := e.Stop(ctx); err != nil && !errors.Is(err, leader.ErrNotRunning) {
			t.Errorf("stop %s: %v", id, err)
		}
	})
	return &replica{e: e, reg: reg}
}

// sample gathers g and returns the value of the series name{labels}
// (pairs of label name and value): a gauge's or counter's value, a
// histogram's sample count; ok is false if there is no such series.
func sample(t *testing.T, g prometheus.Gatherer, name string, labels ...string) (v float64, ok bool) {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if !hasLabels(m, labels) {
				continue
			}
			switch {
			case m.Gauge != nil:
				return m.Gauge.GetValue(), true
			case m.Counter != nil:
				return m.Counter.GetValue(), true
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount()), true
			}
		}
	}
	return 0, false
}

func hasLabels(m *dto.Metric, labels []string) bool {
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	if len(m.GetLabel()) != len(want) {
		return false
	}
	for _, l := range m.GetLabel() {
		if v, ok := want[l.GetName()]; !ok || v != l.GetValue() {
			return false
		}
	}
	return true
}

// value is sample for a series that must exist.
func value(t *testing.T, g prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	v, ok := sample(t, g, name, labels...)
	if !ok {
		t.Fatalf("no series %s%v", name, labels)
	}
	return v
}

func expect(t *testing.T, g prometheus.Gatherer, want float64, name string, labels ...string) {
	t.Helper()
	if v, ok := sample(t, g, name, labels...); !ok || v != want {
		t.Errorf("%s%v = %v (present %v), want %v", name, labels, v, ok, want)
	}
}

// eventually waits until name{labels} has the value want.
func eventually(t *testing.T, g prometheus.Gatherer, want float64, name string, labels ...string) {
	t.Helper()
	consultest.WaitFor(t, 10*time.Second, fmt.Sprintf("%s%v = %v", name, labels, want), func() bool {
		v, ok := sample(t, g, name, labels...)
		return ok && v == want
	})
}

// A real election scraped from each replica's registry: status 1 on the
// leader and 0 on the follower, confirmations and the time left to the
// deadline, then a handoff, a resignation, a lost session and a stop,
// each counted by reason.
func TestLeaderMetrics(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	const key = "svc/prom/leader"
	ctx := context.Background()
	a := startReplica(t, client, key, "a")
	consultest.WaitFor(t, 10*time.Second, "a to lead", a.e.IsLeader)
	b := startReplica(t, client, key, "b")
	consultest.WaitFor(t, 10*time.Second, "both in both lines", func() bool {
		return len(a.e.Status().Candidates) == 2 && len(b.e.Status().Candidates) == 2
	})

	const status = "leader_election_master_status"
	if err := testutil.GatherAndCompare(a.reg, strings.NewReader(`
# HELP leader_election_master_status Leadership of the key (label name): 1 while this process leads it, 0 while it is a standby.
# TYPE leader_election_master_status gauge
leader_election_master_status{name="svc/prom/leader"} 1
`), status); err != nil {
		t.Error(err)
	}
	expect(t, b.reg, 0, status, "name", key)
	expect(t, a.reg, 1, "consulelect_leader_terms_started_total", "key", key)
	expect(t, a.reg, 0, "consulelect_leader_stragglers", "key", key)
	consultest.WaitFor(t, 10*time.Second, "a confirmation", func() bool {
		v, _ := sample(t, a.reg, "consulelect_leader_confirm_rtt_seconds", "key", key)
		return v >= 1
	})
	if left := value(t, a.reg, "consulelect_leader_time_to_deadline_seconds", "key", key); left <= 0 || left > leader.DefaultDemoteAfter.Seconds() {
		t.Errorf("leader's time to deadline %vs, want in (0, %v]", left, leader.DefaultDemoteAfter.Seconds())
	}
	expect(t, b.reg, 0, "consulelect_leader_time_to_deadline_seconds", "key", key)
	if _, ok := sample(t, b.reg, "consulelect_leader_terms_started_total", "key", key); ok {
		t.Error("the follower counts a term")
	}

	// A handoff to b.
	if err := a.e.HandOff(ctx, "b"); err != nil {
		t.Fatalf("HandOff: %v", err)
	}
	consultest.WaitFor(t, 10*time.Second, "b to lead", b.e.IsLeader)
	expect(t, a.reg, 1, "consulelect_leader_terms_ended_total", "key", key, "reason", "handed_off")
	expect(t, a.reg, 1, "consulelect_leader_handoffs_total", "key", key, "cause", "operator")
	expect(t, a.reg, 0, status, "name", key)
	expect(t, a.reg, 0, "consulelect_leader_time_to_deadline_seconds", "key", key)
	eventually(t, b.reg, 1, status, "name", key)

	// b resigns: a leads again (b waits ResignPause before it campaigns).
	if err := b.e.Resign(ctx); err != nil {
		t.Fatalf("Resign: %v", err)
	}
	expect(t, b.reg, 1, "consulelect_leader_terms_ended_total", "key", key, "reason", "resigned")
	expect(t, b.reg, 0, status, "name", key)
	consultest.WaitFor(t, 10*time.Second, "a to lead again", a.e.IsLeader)
	eventually(t, a.reg, 1, status, "name", key)
	expect(t, a.reg, 2, "consulelect_leader_terms_started_total", "key", key)

	// An operator destroys a's session: the loss is counted by how.
	term := a.e.Term()
	if term == nil {
		t.Fatal("a lost its term")
	}
	if _, err := client.Session().Destroy(term.Session(), nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, a.reg, 1, "consulelect_leader_terms_ended_total", "key", key, "reason", "session_invalidated")
	expect(t, a.reg, 0, status, "name", key)

	// After the lock-delay someone leads; stopping it counts "stopped".
	var next *replica
	consultest.WaitFor(t, 10*time.Second, "a leader after the lock-delay", func() bool {
		for _, r := range []*replica{a, b} {
			if r.e.IsLeader() {
				next = r
			}
		}
		return next != nil
	})
	if err := next.e.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	expect(t, next.reg, 1, "consulelect_leader_terms_ended_total", "key", key, "reason", "stopped")
	expect(t, next.reg, 0, status, "name", key)
	if _, ok := sample(t, a.reg, "consulelect_leader_terms_ended_total", "key", key, "reason", "other"); ok {
		t.Error("a term ended for an unknown reason")
	}
}

// A mutex and a semaphore held and released: the held gauge, the wait
// histogram and the releases by reason, unlocked and lost.
func TestLockMetrics(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	reg := prometheus.NewRegistry()
	m, err := consulelectprom.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	newSession := func() *lock.Session {
		s, err := lock.NewSession(client, lock.Config{}, lock.WithMetrics(m.Lock()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = s.Close(ctx)
		})
		return s
	}
	s := newSession()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	const key = "svc/prom/lock"
	mx, err := s.Mutex(key)
	if err != nil {
		t.Fatal(err)
	}
	h, err := mx.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, reg, 1, "consulelect_lock_held", "key", key)
	expect(t, reg, 1, "consulelect_lock_wait_seconds", "key", key)
	if err := h.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	expect(t, reg, 0, "consulelect_lock_held", "key", key)
	expect(t, reg, 1, "consulelect_lock_releases_total", "key", key, "reason", "unlocked")

	// Two slots of a semaphore, one per session (a session holds one slot
	// of a semaphore), both reporting to m: the gauge counts both.
	const prefix = "svc/prom/sem"
	var slots []*lock.Held
	for _, s := range []*lock.Session{s, newSession()} {
		sem, err := s.Semaphore(prefix, 2)
		if err != nil {
			t.Fatal(err)
		}
		h, err := sem.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		slots = append(slots, h)
	}
	expect(t, reg, 2, "consulelect_lock_held", "key", prefix)
	expect(t, reg, 2, "consulelect_lock_wait_seconds", "key", prefix)

	// An operator destroys the first session: its slot is lost.
	if _, err := client.Session().Destroy(slots[0].Session(), nil); err != nil {
		t.Fatal(err)
	}
	<-slots[0].Done()
	_ = slots[0].Unlock(ctx) // cleans up the lost hold
	expect(t, reg, 1, "consulelect_lock_releases_total", "key", prefix, "reason", "session_invalidated")
	expect(t, reg, 1, "consulelect_lock_held", "key", prefix)
	if err := slots[1].Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	expect(t, reg, 1, "consulelect_lock_releases_total", "key", prefix, "reason", "unlocked")
	expect(t, reg, 0, "consulelect_lock_held", "key", prefix)
	if _, ok := sample(t, reg, "consulelect_lock_consul_errors_total", "class", "permanent"); ok {
		t.Error("a permanent Consul error was counted")
	}
}

// Consul errors by class, as the library reports them.
func TestConsulErrorClass(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := consulelectprom.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.Leader().ConsulError("k", errors.New("connection refused"), false)
	m.Leader().ConsulError("k", fmt.Errorf("acl: %w", consulelect.ErrPermanent), true)
	m.Lock().ConsulError(errors.New("timeout"), false)
	m.Lock().ConsulError(fmt.Errorf("acl: %w", consulelect.ErrPermanent), true)
	m.Lock().ConsulError(api.StatusError{Code: 403, Body: "Permission denied"}, true)
	expect(t, reg, 1, "consulelect_leader_consul_errors_total", "key", "k", "class", "transient")
	expect(t, reg, 1, "consulelect_leader_consul_errors_total", "key", "k", "class", "permanent")
	expect(t, reg, 1, "consulelect_lock_consul_errors_total", "class", "transient")
	expect(t, reg, 2, "consulelect_lock_consul_errors_total", "class", "permanent")
}

// The reasons' labels: each way of losing the lock before ErrLockLost,
// which it matches too; anything else is "other". Stragglers are counted
// and cleared.
func TestReasonLabels(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := consulelectprom.New(reg, consulelectprom.WithLockKeyLabel(func(key string) string {
		return key[:strings.LastIndexByte(key, '-')]
	}))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, tt := range []struct {
		reason error
		want   string
	}{
		{leader.ErrStopped, "stopped"},
		{fmt.Errorf("stop: %w", leader.ErrStopped), "stopped"},
		{leader.ErrResigned, "resigned"},
		{leader.ErrLeaderWorkFailed, "leader_work_failed"},
		{leader.ErrHandedOff, "handed_off"},
		{errors.Join(consulelect.ErrSessionInvalidated, consulelect.ErrLockLost), "session_invalidated"},
		{errors.Join(consulelect.ErrLockLost, consulelect.ErrKeyReleased), "key_released"},
		{errors.Join(consulelect.ErrKeyDeleted, consulelect.ErrLockLost), "key_deleted"},
		{errors.Join(consulelect.ErrKeyTaken, consulelect.ErrLockLost), "key_taken"},
		{consulelect.ErrLockLost, "lock_lost"},
		{consulelect.ErrConsulUnreachable, "consul_unreachable"},
		{errors.New("what"), "other"},
		{nil, "other"},
	} {
		m.Leader().TermStarted("k", 1)
		m.Leader().TermEnded("k", tt.reason, time.Second)
		seen[tt.want]++
		expect(t, reg, float64(seen[tt.want]), "consulelect_leader_terms_ended_total", "key", "k", "reason", tt.want)
	}
	expect(t, reg, 0, "leader_election_master_status", "name", "k")
	m.Leader().Stragglers("k", []string{"scheduler", "hook OnDemoted"})
	expect(t, reg, 2, "consulelect_leader_stragglers", "key", "k")
	m.Leader().Stragglers("k", nil)
	expect(t, reg, 0, "consulelect_leader_stragglers", "key", "k")
	for i, tt := range []struct {
		reason error
		want   string
	}{
		{lock.ErrUnlocked, "unlocked"},
		{lock.ErrClosed, "closed"},
		{errors.Join(consulelect.ErrLockLost, consulelect.ErrSessionInvalidated), "session_invalidated"},
		{errors.Join(consulelect.ErrKeyReleased, consulelect.ErrLockLost), "key_released"},
		{errors.Join(consulelect.ErrKeyDeleted, consulelect.ErrLockLost), "key_deleted"},
		{errors.Join(consulelect.ErrKeyTaken, consulelect.ErrLockLost), "key_taken"},
		{consulelect.ErrLockLost, "lock_lost"},
		{consulelect.ErrConsulUnreachable, "consul_unreachable"},
		{errors.New("what"), "other"},
	} {
		key := fmt.Sprintf("orders/charge-%d", i) // mapped to "orders/charge"
		m.Lock().Acquired(key, 1, time.Millisecond)
		m.Lock().Released(key, tt.reason, time.Second)
		expect(t, reg, 1, "consulelect_lock_releases_total", "key", "orders/charge", "reason", tt.want)
	}
	expect(t, reg, 0, "consulelect_lock_held", "key", "orders/charge")
	expect(t, reg, 9, "consulelect_lock_wait_seconds", "key", "orders/charge")
}

// New registers all or nothing, and refuses a second Metrics on a registry.
func TestNewRegistration(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := consulelectprom.New(reg); err != nil {
		t.Fatal(err)
	}
	if _, err := consulelectprom.New(reg); err == nil {
		t.Error("a second New on the same registry succeeded")
	}

	reg = prometheus.NewRegistry()
	// The last collector New registers, already there: New must take the
	// others back.
	clash := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "consulelect_lock_consul_errors_total",
		Help: "Failed Consul requests of lock sessions, by class (permanent: retrying will not fix it; transient)."}, []string{"class"})
	reg.MustRegister(clash)
	if _, err := consulelectprom.New(reg); err == nil {
		t.Fatal("New over a clashing collector succeeded")
	}
	reg.Unregister(clash)
	if _, err := consulelectprom.New(reg); err != nil {
		t.Errorf("a failed New left its collectors registered: %v", err)
	}
}
