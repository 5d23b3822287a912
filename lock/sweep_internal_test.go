package lock

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/consulelect/consulelect"
	"github.com/hashicorp/consul/api"
)

// The sweep's schedule, with a clean-up that needs no Consul: rounds that
// fail do not count, a permanent error ends it, a second late write
// starts it again instead of a second sweep, a round waits while another
// goroutine of ours has the turn, and Close ends it.
func TestSweepSchedule(t *testing.T) {
	saved := lateSweeps
	lateSweeps = []time.Duration{5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond}
	t.Cleanup(func() { lateSweeps = saved })
	newS := func(t *testing.T) *Session {
		client, err := api.NewClient(api.DefaultConfig()) // never called: the clean-ups below send nothing
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewSession(client, Config{Identity: "sweep"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close(context.Background()) })
		return s
	}
	// counter counts the clean-up's calls (run fails the first fail ones with err).
	type counter struct {
		mu    sync.Mutex
		calls int
	}
	run := func(c *counter, fail int, err error) func(context.Context, string) error {
		return func(context.Context, string) error {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.calls++
			if c.calls <= fail {
				return err
			}
			return nil
		}
	}
	// finished waits for s's sweeps to end and returns the calls.
	finished := func(t *testing.T, s *Session, c *counter) int {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			s.mu.Lock()
			n := len(s.sweeps)
			s.mu.Unlock()
			if n == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the sweep did not end within 5s")
			}
			time.Sleep(5 * time.Millisecond)
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.calls
	}

	t.Run("failed rounds do not count", func(t *testing.T) {
		s, c := newS(t), &counter{}
		s.sweep("k", "sid", run(c, 2, errors.New("connection refused")))
		if got, want := finished(t, s, c), len(lateSweeps)+2; got != want {
			t.Errorf("%d clean-ups, want %d (every round, and the two that failed again)", got, want)
		}
	})
	t.Run("a permanent error ends it", func(t *testing.T) {
		s, c := newS(t), &counter{}
		s.sweep("k", "sid", run(c, 100, consulelect.ErrPermanent))
		if got := finished(t, s, c); got != 1 {
			t.Errorf("%d clean-ups, want 1", got)
		}
	})
	t.Run("a second late write starts the schedule again", func(t *testing.T) {
		s, c := newS(t), &counter{}
		clean := run(c, 0, nil)
		s.sweep("k", "sid", clean)
		s.sweep("k", "sid", clean) // the same sweep, told again before its first round
		s.mu.Lock()
		n := len(s.sweeps)
		s.mu.Unlock()
		if n != 1 {
			t.Fatalf("%d sweeps running, want 1", n)
		}
		if got := finished(t, s, c); got < len(lateSweeps) || got > 2*len(lateSweeps) {
			t.Errorf("%d clean-ups, want %d to %d", got, len(lateSweeps), 2*len(lateSweeps))
		}
	})
	t.Run("a round waits for the turn", func(t *testing.T) {
		s, c := newS(t), &counter{}
		leave, err := s.takeTurn(context.Background(), "k", false)
		if err != nil {
			t.Fatal(err)
		}
		s.sweep("k", "sid", run(c, 0, nil))
		time.Sleep(100 * time.Millisecond) // every round of the schedule would have run by now
		c.mu.Lock()
		calls := c.calls
		c.mu.Unlock()
		if calls != 0 {
			t.Fatalf("%d clean-ups ran while another goroutine had the turn", calls)
		}
		leave()
		if got := finished(t, s, c); got != len(lateSweeps) {
			t.Errorf("%d clean-ups after the turn was free, want %d", got, len(lateSweeps))
		}
	})
	t.Run("Close ends it", func(t *testing.T) {
		s, c := newS(t), &counter{}
		s.sweep("k", "sid", run(c, 1000, errors.New("connection refused"))) // would go on for ever
		time.Sleep(20 * time.Millisecond)
		if err := s.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		s.mu.Lock()
		n := len(s.sweeps)
		s.mu.Unlock()
		if n != 0 {
			t.Errorf("%d sweeps still running after Close", n)
		}
	})
}
