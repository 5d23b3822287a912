package leader_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/leader"
)

// A session of ours that a failed cleanup left holding the key (the
// zombie of consul #2371) is recognised by the candidate ID in the key's
// value and destroyed, so the elector leads again instead of following
// its own ghost forever.
func TestStaleOwnSessionIsDestroyed(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	const key = "svc/zombie"
	e := startElector(t, client, leader.Config{Key: key, Identity: "me", ResignPause: 500 * time.Millisecond})
	waitFor(t, 10*time.Second, "leadership", e.IsLeader)
	pair, _, err := client.KV().Get(key, nil)
	if err != nil || pair == nil {
		t.Fatal(err)
	}
	ours := pair.Value // carries our candidate ID
	if err := e.Resign(context.Background()); err != nil {
		t.Fatal(err)
	}
	// While e pauses, a leftover session takes the key with our value.
	ghost, _, err := client.Session().Create(&api.SessionEntry{Name: "ghost", LockDelay: time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, err := client.KV().Acquire(&api.KVPair{Key: key, Session: ghost, Value: ours, Flags: api.LockFlagValue}, nil); err != nil || !ok {
		t.Fatalf("ghost acquire: %v %v", ok, err)
	}
	waitFor(t, 10*time.Second, "leadership again", e.IsLeader)
	if s, _, err := client.Session().Info(ghost, nil); err != nil || s != nil {
		t.Fatalf("ghost session still exists: %+v %v", s, err)
	}
}

// A group can be started and stopped repeatedly; an elector in it can run
// again after the group restarted.
func TestGroupRestart(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	g, err := leader.NewGroup(client, leader.GroupConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := g.Start(); err != nil {
			t.Fatal(err)
		}
		e, err := leader.New(client, leader.Config{Key: "svc/group-restart", Identity: "member"}, leader.WithGroup(g))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Start(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "leadership", e.IsLeader)
		if err := e.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := g.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Stop(context.Background()); !errors.Is(err, leader.ErrNotRunning) {
		t.Fatalf("second Stop: %v, want ErrNotRunning", err)
	}
}

// Concurrent Stops and a Start right after never orphan a run: the last
// Stop stops whatever runs.
func TestConcurrentStopsAndRestart(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	e, err := leader.New(srv.Client(t), leader.Config{Key: "svc/stops", Identity: "me"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if err := e.Start(); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for j := 0; j < 3; j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := e.Stop(context.Background()); err != nil && !errors.Is(err, leader.ErrNotRunning) {
					t.Errorf("Stop: %v", err)
				}
			}()
		}
		wg.Wait()
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	if err := e.Stop(context.Background()); err != nil {
		t.Fatalf("final Stop: %v", err)
	}
	if st := e.Status(); st.Role != leader.RoleStopped {
		t.Fatalf("role %v after the final Stop", st.Role)
	}
}
