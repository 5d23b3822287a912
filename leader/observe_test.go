package leader_test

import (
	"context"
	"testing"
	"time"

	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/leader"
)

// Observe delivers the holder at once and at each change, from the
// elector's own watch, and closes its channel when ctx ends; Lookup reads
// the holder for a process that does not campaign.
func TestObserveAndLookup(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	const key = "svc/observe"
	e1 := startElector(t, client, leader.Config{Key: key, Identity: "e1", Address: "10.0.0.1:8080",
		Metadata: map[string]string{"version": "1.2.3"}})
	waitFor(t, 10*time.Second, "e1 to lead", e1.IsLeader)
	e2 := startElector(t, client, cfgFor(key, "e2"))

	ctx, cancel := context.WithCancel(context.Background())
	ch := e2.Observe(ctx)
	next := func() *leader.Holder {
		t.Helper()
		for {
			select {
			case h := <-ch:
				if h != nil { // nil: nobody holds it, a moment during handoff
					return h
				}
			case <-time.After(5 * time.Second):
				t.Fatal("no observation")
			}
		}
	}
	h := next()
	if h.ID != "e1" || h.Address != "10.0.0.1:8080" || h.Metadata["version"] != "1.2.3" || h.PID == 0 || h.Foreign {
		t.Fatalf("observed %+v", h)
	}
	if got, err := leader.Lookup(ctx, client, key); err != nil || got == nil || got.ID != "e1" || got.Session != e1.Term().Session() {
		t.Fatalf("Lookup: %+v %v", got, err)
	}
	if err := e1.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	if h := next(); h.ID != "e2" {
		t.Fatalf("after resign observed %+v, want e2", h)
	}
	cancel()
	for range ch { // closed once ctx ends
	}
}

// An elector that Observe shows as the holder is leading by then: the
// term is published before the holder, so Resign right after the
// observation finds it (ExampleElector_Start failed with ErrNotLeader when
// the holder came first).
func TestObserveSelfMeansLeading(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	cfg := cfgFor("svc/observe-self", "self")
	cfg.ResignPause = time.Millisecond
	e := startElector(t, client, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := e.Observe(ctx)
	for cycle := 0; cycle < 20; cycle++ {
		deadline := time.After(10 * time.Second)
		for seen := false; !seen; {
			select {
			case h := <-ch:
				seen = h != nil && h.ID == "self"
			case <-deadline:
				t.Fatalf("cycle %d: never observed as the holder", cycle)
			}
		}
		if err := e.Resign(context.Background()); err != nil {
			t.Fatalf("cycle %d: Resign right after observing itself as the holder: %v", cycle, err)
		}
	}
}
