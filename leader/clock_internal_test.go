package leader

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

// fakeClock advances only when told; its timers never fire on their own.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) AfterFunc(time.Duration, func()) stopper { return nopStopper{} }

type nopStopper struct{}

func (nopStopper) Stop() bool { return true }

// A leader whose deadline timer could not run (a wedged process, here a
// clock whose timers never fire) is a zombie: liveness fails once it is
// past its deadline by more than the safety margin, and not before.
func TestLivenessFailsOnlyForZombieLeader(t *testing.T) {
	clk := &fakeClock{now: time.Unix(1000, 0)}
	client, _ := api.NewClient(api.DefaultConfig())
	e, err := New(client, Config{Key: "k"}, withClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	term := newTerm(context.Background(), clk, "k", "s", 7, clk.Now(), e.cfg.DemoteAfter)
	e.state.setRole(RoleLeader, term, clk.Now())
	code := func() int {
		rec := httptest.NewRecorder()
		e.Handlers().Liveness.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		return rec.Code
	}
	tests := []struct {
		name    string
		advance time.Duration
		want    int
	}{
		{"fresh leader", 0, 200},
		{"at the deadline", e.cfg.DemoteAfter, 200},
		{"within the margin past it", safetyMargin(e.cfg.LockDelay), 200},
		{"past deadline and margin", time.Millisecond, 503},
	}
	for _, tt := range tests {
		clk.advance(tt.advance)
		if got := code(); got != tt.want {
			t.Errorf("%s: liveness %d, want %d", tt.name, got, tt.want)
		}
	}
	// A confirmation after the deadline does not revive the term.
	if term.confirm(clk.Now(), e.cfg.DemoteAfter) {
		t.Error("a late confirmation extended a term past its deadline")
	}
	if term.Context().Err() == nil {
		t.Error("late confirmation did not end the term")
	}
}
