package leader_test

import (
	"context"
	"testing"
	"time"

	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/leader"
)

// Forty alternating resigns between two electors: each handoff goes to the
// other one (regression: a resigned elector looked like a follower while it
// was still pausing, and a follower that never saw the last holder queued
// behind it).
func TestAlternatingResigns(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	a := startElector(t, client, leader.Config{Key: "k", Identity: "a", ResignPause: 20 * time.Millisecond})
	b := startElector(t, client, leader.Config{Key: "k", Identity: "b", ResignPause: 20 * time.Millisecond})
	waitFor(t, 10*time.Second, "leader", func() bool { return a.IsLeader() || b.IsLeader() })
	for i := 0; i < 40; i++ {
		cur, next := a, b
		if b.IsLeader() {
			cur, next = b, a
		}
		waitFor(t, 5*time.Second, "next follows", func() bool { return next.Status().Leader != nil && next.Status().Role == leader.RoleFollower })
		t.Logf("=== handoff %d from %s", i, cur.Status().Identity)
		if err := cur.Resign(context.Background()); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "next leads", next.IsLeader)
	}
}
