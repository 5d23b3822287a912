package consulelectotel_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/leader"
	"github.com/consulelect/consulelect/lock"
	consulelectotel "github.com/consulelect/consulelect/metrics/otel"
)

// reader is a ManualReader with its provider and the adapter on it.
type reader struct {
	r *sdkmetric.ManualReader
	m *consulelectotel.Metrics
}

func newReader(t *testing.T, opts ...consulelectotel.Option) *reader {
	t.Helper()
	r := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
	t.Cleanup(func() { _ = provider.Shutdown(context.Background()) })
	m, err := consulelectotel.New(provider, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return &reader{r: r, m: m}
}

// point is one data point read back: a gauge's or sum's value, or a
// histogram's count, with the instrument's unit.
type point struct {
	value float64
	unit  string
}

// sample collects r and returns the data point of instrument name with
// exactly the attributes attrs (pairs of key and value).
func (r *reader) sample(t *testing.T, name string, attrs ...string) (point, bool) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.r.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("collect: %v", err)
	}
	var kvs []attribute.KeyValue
	for i := 0; i+1 < len(attrs); i += 2 {
		kvs = append(kvs, attribute.String(attrs[i], attrs[i+1]))
	}
	want := attribute.NewSet(kvs...)
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != consulelectotel.ScopeName {
			t.Errorf("scope %q, want %q", sm.Scope.Name, consulelectotel.ScopeName)
		}
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Gauge[int64]:
				for _, dp := range d.DataPoints {
					if dp.Attributes.Equals(&want) {
						return point{float64(dp.Value), m.Unit}, true
					}
				}
			case metricdata.Gauge[float64]:
				for _, dp := range d.DataPoints {
					if dp.Attributes.Equals(&want) {
						return point{dp.Value, m.Unit}, true
					}
				}
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					if dp.Attributes.Equals(&want) {
						return point{float64(dp.Value), m.Unit}, true
					}
				}
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					if dp.Attributes.Equals(&want) {
						return point{float64(dp.Count), m.Unit}, true
					}
				}
			default:
				t.Fatalf("%s: unexpected data %T", name, m.Data)
			}
		}
	}
	return point{}, false
}

func (r *reader) value(t *testing.T, name string, attrs ...string) float64 {
	t.Helper()
	p, ok := r.sample(t, name, attrs...)
	if !ok {
		t.Fatalf("no data point %s%v", name, attrs)
	}
	return p.value
}

func (r *reader) expect(t *testing.T, want float64, name string, attrs ...string) {
	t.Helper()
	if p, ok := r.sample(t, name, attrs...); !ok || p.value != want {
		t.Errorf("%s%v = %v (present %v), want %v", name, attrs, p.value, ok, want)
	}
}

func (r *reader) eventually(t *testing.T, want float64, name string, attrs ...string) {
	t.Helper()
	consultest.WaitFor(t, 10*time.Second, fmt.Sprintf("%s%v = %v", name, attrs, want), func() bool {
		p, ok := r.sample(t, name, attrs...)
		return ok && p.value == want
	})
}

// replica is one elector with its own provider, as if in its own process.
type replica struct {
	e *leader.Elector
	*reader
}

func startReplica(t *testing.T, client *api.Client, key, id string) *replica {
	t.Helper()
	r := newReader(t)
	e, err := leader.New(client, leader.Config{Key: key, Identity: id}, leader.WithMetrics(r.m.Leader()))
	if err != nil {
		t.Fatal(err)
	}
	r.m.Watch(e)
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
	return &replica{e: e, reader: r}
}

// A real election read from each replica's ManualReader: status 1 on the
// leader and 0 on the follower, confirmations and the time left to the
// deadline, then a handoff, a resignation, a lost session and a stop,
// each counted by reason.
func TestLeaderMetrics(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	const key = "svc/otel/leader"
	ctx := context.Background()
	a := startReplica(t, client, key, "a")
	consultest.WaitFor(t, 10*time.Second, "a to lead", a.e.IsLeader)
	b := startReplica(t, client, key, "b")
	consultest.WaitFor(t, 10*time.Second, "both in both lines", func() bool {
		return len(a.e.Status().Candidates) == 2 && len(b.e.Status().Candidates) == 2
	})

	const status = "consulelect.leader.status"
	if p, ok := a.sample(t, status, "key", key); !ok || p.value != 1 || p.unit != "1" {
		t.Errorf("leader's status %+v (present %v), want 1 in unit 1", p, ok)
	}
	b.expect(t, 0, status, "key", key)
	a.expect(t, 1, "consulelect.leader.terms.started", "key", key)
	a.expect(t, 0, "consulelect.leader.stragglers", "key", key)
	consultest.WaitFor(t, 10*time.Second, "a confirmation", func() bool {
		p, _ := a.sample(t, "consulelect.leader.confirm.duration", "key", key)
		return p.value >= 1 && p.unit == "s"
	})
	if p, _ := a.sample(t, "consulelect.leader.time_to_deadline", "key", key); p.value <= 0 || p.value > leader.DefaultDemoteAfter.Seconds() || p.unit != "s" {
		t.Errorf("leader's time to deadline %+v, want in (0, %v] s", p, leader.DefaultDemoteAfter.Seconds())
	}
	b.expect(t, 0, "consulelect.leader.time_to_deadline", "key", key)
	if _, ok := b.sample(t, "consulelect.leader.terms.started", "key", key); ok {
		t.Error("the follower counts a term")
	}

	// A handoff to b.
	if err := a.e.HandOff(ctx, "b"); err != nil {
		t.Fatalf("HandOff: %v", err)
	}
	consultest.WaitFor(t, 10*time.Second, "b to lead", b.e.IsLeader)
	a.expect(t, 1, "consulelect.leader.terms.ended", "key", key, "reason", "handed_off")
	a.expect(t, 1, "consulelect.leader.handoffs", "key", key, "cause", "operator")
	a.expect(t, 0, status, "key", key)
	a.expect(t, 0, "consulelect.leader.time_to_deadline", "key", key)
	b.eventually(t, 1, status, "key", key)

	// b resigns: a leads again (b waits ResignPause before it campaigns).
	if err := b.e.Resign(ctx); err != nil {
		t.Fatalf("Resign: %v", err)
	}
	b.expect(t, 1, "consulelect.leader.terms.ended", "key", key, "reason", "resigned")
	b.expect(t, 0, status, "key", key)
	consultest.WaitFor(t, 10*time.Second, "a to lead again", a.e.IsLeader)
	a.eventually(t, 1, status, "key", key)
	a.expect(t, 2, "consulelect.leader.terms.started", "key", key)

	// An operator destroys a's session: the loss is counted by how.
	term := a.e.Term()
	if term == nil {
		t.Fatal("a lost its term")
	}
	if _, err := client.Session().Destroy(term.Session(), nil); err != nil {
		t.Fatal(err)
	}
	a.eventually(t, 1, "consulelect.leader.terms.ended", "key", key, "reason", "session_invalidated")
	a.expect(t, 0, status, "key", key)

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
	next.expect(t, 1, "consulelect.leader.terms.ended", "key", key, "reason", "stopped")
	next.expect(t, 0, status, "key", key)
	if _, ok := a.sample(t, "consulelect.leader.terms.ended", "key", key, "reason", "other"); ok {
		t.Error("a term ended for an unknown reason")
	}
}

// A mutex and a semaphore held and released: the held count, the wait
// histogram and the releases by reason, unlocked and lost.
func TestLockMetrics(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	r := newReader(t)
	newSession := func() *lock.Session {
		s, err := lock.NewSession(client, lock.Config{}, lock.WithMetrics(r.m.Lock()))
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

	const key = "svc/otel/lock"
	mx, err := s.Mutex(key)
	if err != nil {
		t.Fatal(err)
	}
	h, err := mx.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r.expect(t, 1, "consulelect.lock.held", "key", key)
	if p, ok := r.sample(t, "consulelect.lock.wait.duration", "key", key); !ok || p.value != 1 || p.unit != "s" {
		t.Errorf("wait histogram %+v (present %v), want one wait in s", p, ok)
	}
	if err := h.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	r.expect(t, 0, "consulelect.lock.held", "key", key)
	r.expect(t, 1, "consulelect.lock.releases", "key", key, "reason", "unlocked")

	// Two slots of a semaphore, one per session (a session holds one slot
	// of a semaphore), both reporting to r: the count has both.
	const prefix = "svc/otel/sem"
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
	r.expect(t, 2, "consulelect.lock.held", "key", prefix)
	r.expect(t, 2, "consulelect.lock.wait.duration", "key", prefix)

	// An operator destroys the first session: its slot is lost.
	if _, err := client.Session().Destroy(slots[0].Session(), nil); err != nil {
		t.Fatal(err)
	}
	<-slots[0].Done()
	_ = slots[0].Unlock(ctx) // cleans up the lost hold
	r.expect(t, 1, "consulelect.lock.releases", "key", prefix, "reason", "session_invalidated")
	r.expect(t, 1, "consulelect.lock.held", "key", prefix)
	if err := slots[1].Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	r.expect(t, 1, "consulelect.lock.releases", "key", prefix, "reason", "unlocked")
	r.expect(t, 0, "consulelect.lock.held", "key", prefix)
	if _, ok := r.sample(t, "consulelect.lock.consul.errors", "class", "permanent"); ok {
		t.Error("a permanent Consul error was counted")
	}
}

// Consul errors by class, as the library reports them.
func TestConsulErrorClass(t *testing.T) {
	if _, err := consulelectotel.New(nil); err == nil {
		t.Error("New(nil) succeeded")
	}
	r := newReader(t)
	r.m.Leader().ConsulError("k", errors.New("connection refused"), false)
	r.m.Leader().ConsulError("k", fmt.Errorf("acl: %w", consulelect.ErrPermanent), true)
	r.m.Lock().ConsulError(errors.New("timeout"), false)
	r.m.Lock().ConsulError(fmt.Errorf("acl: %w", consulelect.ErrPermanent), true)
	r.m.Lock().ConsulError(api.StatusError{Code: 403, Body: "Permission denied"}, true)
	r.expect(t, 1, "consulelect.leader.consul.errors", "key", "k", "class", "transient")
	r.expect(t, 1, "consulelect.leader.consul.errors", "key", "k", "class", "permanent")
	r.expect(t, 1, "consulelect.lock.consul.errors", "class", "transient")
	r.expect(t, 2, "consulelect.lock.consul.errors", "class", "permanent")
}

// The reasons' values: each way of losing the lock before ErrLockLost,
// which it matches too; anything else is "other". Stragglers are counted
// and cleared.
func TestReasonLabels(t *testing.T) {
	r := newReader(t, consulelectotel.WithLockKeyLabel(func(key string) string {
		return key[:strings.LastIndexByte(key, '-')]
	}))
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
		r.m.Leader().TermStarted("k", 1)
		r.m.Leader().TermEnded("k", tt.reason, time.Second)
		seen[tt.want]++
		r.expect(t, float64(seen[tt.want]), "consulelect.leader.terms.ended", "key", "k", "reason", tt.want)
	}
	r.expect(t, 0, "consulelect.leader.status", "key", "k")
	r.m.Leader().Stragglers("k", []string{"scheduler", "hook OnDemoted"})
	r.expect(t, 2, "consulelect.leader.stragglers", "key", "k")
	r.m.Leader().Stragglers("k", nil)
	r.expect(t, 0, "consulelect.leader.stragglers", "key", "k")
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
		r.m.Lock().Acquired(key, 1, time.Millisecond)
		r.m.Lock().Released(key, tt.reason, time.Second)
		r.expect(t, 1, "consulelect.lock.releases", "key", "orders/charge", "reason", tt.want)
	}
	r.expect(t, 0, "consulelect.lock.held", "key", "orders/charge")
	r.expect(t, 9, "consulelect.lock.wait.duration", "key", "orders/charge")
}
