package leader_test

import (
	"context"
	"testing"
	"time"

	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/leader"
)

// Five candidates on one key: exactly one leads at any time; each graceful
// stop hands over to a waiting follower without the lock-delay (the key is
// released before the session is destroyed), and fencing tokens increase.
func TestExactlyOneLeaderAndHandoff(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	led := newLedger()
	const n = 5
	electors := map[*leader.Elector]string{}
	var all []*leader.Elector
	for i := 0; i < n; i++ {
		e := startElector(t, client, cfgFor("svc/one", name(i)), leader.WithLeaderFunc(led.work(name(i))))
		electors[e] = name(i)
		all = append(all, e)
	}
	lockDelay := all[0].Config().LockDelay
	remaining := all
	for len(remaining) > 1 {
		cur := waitLeader(t, 10*time.Second, remaining...)
		// The leader work starts in its own goroutine, a moment after.
		waitFor(t, time.Second, "the ledger to agree on "+electors[cur], func() bool {
			got := led.leaders()
			return len(got) == 1 && got[0] == electors[cur]
		})
		stopAt := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := cur.Stop(ctx); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		cancel()
		remaining = without(remaining, cur)
		next := waitLeader(t, lockDelay, remaining...)
		handoff := next.Term().Started().Sub(stopAt)
		t.Logf("handoff %s -> %s: %v", electors[cur], electors[next], handoff)
		// Bound: a release wakes the followers' blocking queries at once;
		// had the session been destroyed first, lock-delay would apply.
		if handoff >= lockDelay {
			t.Errorf("handoff took %v, not less than LockDelay %v: the key was not released", handoff, lockDelay)
		}
		// Followers agree on who leads.
		for _, e := range remaining {
			waitFor(t, 2*time.Second, "followers to see the new leader", func() bool {
				st := e.Status()
				return st.Leader != nil && st.Leader.ID == electors[next]
			})
		}
	}
	led.checkNoOverlap(t)
	if got := len(led.ended()); got != n-1 {
		t.Errorf("recorded %d ended terms, want %d", got, n-1)
	}
}

func without(es []*leader.Elector, x *leader.Elector) []*leader.Elector {
	var out []*leader.Elector
	for _, e := range es {
		if e != x {
			out = append(out, e)
		}
	}
	return out
}
