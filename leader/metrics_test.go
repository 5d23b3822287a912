package leader_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/leader"
)

// recorder is a leader.Metrics that keeps every call.
type recorder struct {
	mu        sync.Mutex
	started   []uint64
	ended     []error
	held      []time.Duration
	rtts      []time.Duration
	errs      []error
	permanent []bool
	stuck     [][]string
}

func (r *recorder) TermStarted(_ string, token uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started = append(r.started, token)
}

func (r *recorder) TermEnded(_ string, reason error, held time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ended, r.held = append(r.ended, reason), append(r.held, held)
}

func (r *recorder) Confirmed(_ string, rtt time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rtts = append(r.rtts, rtt)
}

func (r *recorder) ConsulError(_ string, err error, permanent bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs, r.permanent = append(r.errs, err), append(r.permanent, permanent)
}

func (r *recorder) Stragglers(_ string, names []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stuck = append(r.stuck, names)
}

// metrics is the leader.Metrics that records into r.
func (r *recorder) metrics() leader.Metrics {
	return leader.Metrics{TermStarted: r.TermStarted, TermEnded: r.TermEnded, Confirmed: r.Confirmed,
		ConsulError: r.ConsulError, Stragglers: r.Stragglers}
}

func (r *recorder) read(f func(*recorder) bool) func() bool {
	return func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return f(r)
	}
}

// Metrics sees every term's start with its token and its end with the
// reason, the confirmations with their round trips, and Consul errors
// marked permanent or not.
func TestMetrics(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	rec := &recorder{}
	e := startElector(t, client, cfgFor("svc/metrics", "measured"), leader.WithMetrics(rec.metrics()))
	waitFor(t, 10*time.Second, "e to lead", e.IsLeader)
	term := e.Term()
	cfg := e.Config()
	waitFor(t, 5*time.Second, "two confirmations", rec.read(func(r *recorder) bool { return len(r.rtts) >= 2 }))
	if _, err := client.Session().Destroy(term.Session(), nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the term's end", rec.read(func(r *recorder) bool { return len(r.ended) == 1 }))
	waitFor(t, 10*time.Second, "a second term", rec.read(func(r *recorder) bool { return len(r.started) == 2 }))

	rec.mu.Lock()
	if rec.started[0] != term.Token() || rec.started[1] <= term.Token() {
		t.Errorf("TermStarted tokens %v, want %d then a higher one", rec.started, term.Token())
	}
	if !errors.Is(rec.ended[0], consulelect.ErrSessionInvalidated) || rec.held[0] != term.Ended().Sub(term.Started()) {
		t.Errorf("TermEnded(%v, %v), want ErrSessionInvalidated after %v", rec.ended[0], rec.held[0], term.Ended().Sub(term.Started()))
	}
	for _, rtt := range rec.rtts {
		if rtt <= 0 || rtt > cfg.ConfirmInterval+cfg.ConfirmInterval/16+time.Second {
			t.Errorf("confirmation round trip %v out of (0, ConfirmInterval + jitter + 1s]", rtt)
		}
	}
	rec.mu.Unlock()

	// A key used by another protocol (flags of a semaphore): permanent.
	if _, err := client.KV().Put(&api.KVPair{Key: "svc/metrics-foreign", Flags: 0xdead}, nil); err != nil {
		t.Fatal(err)
	}
	foreign := &recorder{}
	startElector(t, client, cfgFor("svc/metrics-foreign", "refused"), leader.WithMetrics(foreign.metrics()))
	waitFor(t, 5*time.Second, "a permanent error", foreign.read(func(r *recorder) bool {
		return len(r.errs) > 0 && r.permanent[0] && errors.Is(r.errs[0], consulelect.ErrForeignKey)
	}))
}
