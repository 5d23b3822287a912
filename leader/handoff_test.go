package leader_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/leader"
)

// startNamed starts equal candidates on key, recording their terms in l.
func startNamed(t *testing.T, client *api.Client, key string, l *ledger, ids ...string) map[string]*leader.Elector {
	t.Helper()
	es := map[string]*leader.Elector{}
	for _, id := range ids {
		es[id] = startElector(t, client, leader.Config{Key: key, Identity: id}, leader.WithLeaderFunc(l.work(id)))
	}
	waitFor(t, 10*time.Second, "every candidate in every line", func() bool {
		for _, e := range es {
			if len(e.Status().Candidates) != len(ids) {
				return false
			}
		}
		return true
	})
	return es
}

func current(t *testing.T, es map[string]*leader.Elector) (string, *leader.Elector) {
	t.Helper()
	var all []*leader.Elector
	for _, e := range es {
		all = append(all, e)
	}
	e := waitLeader(t, 10*time.Second, all...)
	return e.Config().Identity, e
}

// HandOff moves leadership to the named live candidate (milliseconds, a
// graceful release), or to another one when none is named; it refuses an
// unknown, stopped or own target, and works only on the leader.
func TestHandOff(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	const key = "svc/handoff"
	l := newLedger()
	es := startNamed(t, client, key, l, "a", "b", "c", "d")
	ctx := context.Background()
	id, cur := current(t, es)
	for fid, f := range es {
		if fid != id {
			if err := f.HandOff(ctx, id); !errors.Is(err, leader.ErrNotLeader) {
				t.Errorf("a follower's HandOff: %v, want ErrNotLeader", err)
			}
			break
		}
	}
	for _, bad := range []string{"nobody", id} {
		if err := cur.HandOff(ctx, bad); !errors.Is(err, leader.ErrNoCandidate) {
			t.Errorf("HandOff(%q): %v, want ErrNoCandidate", bad, err)
		}
	}
	// A stopped candidate is not a target once the line has seen it go.
	var gone string
	for gid := range es {
		if gid != id {
			gone = gid
			break
		}
	}
	if err := es[gone].Stop(ctx); err != nil {
		t.Fatal(err)
	}
	delete(es, gone)
	waitFor(t, 10*time.Second, "the line without "+gone, func() bool { return len(cur.Status().Candidates) == 3 })
	if err := cur.HandOff(ctx, gone); !errors.Is(err, leader.ErrNoCandidate) {
		t.Errorf("HandOff to the stopped %s: %v, want ErrNoCandidate", gone, err)
	}
	if !cur.IsLeader() {
		t.Fatal("a refused HandOff ended the term")
	}

	ended := len(l.ended())
	for i := 0; i < 3; i++ {
		var to string
		for tid := range es {
			if tid != id {
				to = tid
				break
			}
		}
		if i == 2 {
			to = "" // anyone else
		}
		if err := cur.HandOff(ctx, to); err != nil {
			t.Fatalf("HandOff(%q): %v", to, err)
		}
		nid, next := current(t, es)
		if nid == id || (to != "" && nid != to) {
			t.Fatalf("HandOff(%q) from %s: %s leads", to, id, nid)
		}
		ended++
		gap, prev := gapBefore(l.waitEnded(t, ended), next)
		if !errors.Is(prev.reason, leader.ErrHandedOff) {
			t.Errorf("the handed-off term ended with %v", prev.reason)
		}
		if want := "handed over by " + id + " (operator)"; next.Status().Leader.Why != want {
			t.Errorf("Why %q, want %q", next.Status().Leader.Why, want)
		}
		t.Logf("HandOff(%q) %s -> %s: %v without a leader", to, id, nid, gap)
		id, cur = nid, next
	}
	l.checkNoOverlap(t)
}

// RequestHandOff asks the leader from outside the process, through the
// request key: it waits for and returns the new holder; an unknown target
// is refused by the leader with ErrNoCandidate; a request for an earlier
// term (another session) is ignored and removed; with nobody leading it
// returns ErrNotLeader.
func TestRequestHandOff(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	const key = "svc/request"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := leader.RequestHandOff(ctx, client, key, ""); !errors.Is(err, leader.ErrNotLeader) {
		t.Errorf("with nobody leading: %v, want ErrNotLeader", err)
	}
	l := newLedger()
	es := startNamed(t, client, key, l, "a", "b", "c")
	id, _ := current(t, es)

	if _, err := leader.RequestHandOff(ctx, client, key, "nobody"); !errors.Is(err, leader.ErrNoCandidate) {
		t.Errorf("to an unknown candidate: %v, want ErrNoCandidate", err)
	}
	if p, _, _ := client.KV().Get(key+"/.handoff", nil); p != nil {
		t.Errorf("the refused request was left behind: %s", p.Value)
	}
	if now, _ := current(t, es); now != id {
		t.Errorf("a refused request moved leadership to %s", now)
	}

	// A stale request (for a session that does not hold the key) is
	// dropped by the leader, unanswered.
	if _, err := client.KV().Put(&api.KVPair{Key: key + "/.handoff", Value: []byte(`{"session":"0b5e0f0a-0000-0000-0000-000000000000"}`)}, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the stale request removed", func() bool {
		p, _, err := client.KV().Get(key+"/.handoff", nil)
		return err == nil && p == nil
	})
	if now, _ := current(t, es); now != id {
		t.Errorf("a stale request moved leadership to %s", now)
	}

	var to string
	for tid := range es {
		if tid != id {
			to = tid
		}
	}
	start := time.Now()
	h, err := leader.RequestHandOff(ctx, client, key, to)
	if err != nil {
		t.Fatalf("RequestHandOff(%q): %v", to, err)
	}
	took := time.Since(start)
	if h.ID != to {
		t.Errorf("RequestHandOff returned holder %s, want %s", h.ID, to)
	}
	if now, _ := current(t, es); now != to {
		t.Errorf("%s leads, want %s", now, to)
	}
	t.Logf("RequestHandOff %s -> %s answered in %v", id, to, took)

	h, err = leader.RequestHandOff(ctx, client, key, "")
	if err != nil || h.ID == to {
		t.Errorf("RequestHandOff to anyone: %+v, %v", h, err)
	}
	l.checkNoOverlap(t)
}
