package leader_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/leader"
)

func startGroup(t *testing.T, client *api.Client) *leader.Group {
	t.Helper()
	g, err := leader.NewGroup(client, leader.GroupConfig{Logger: testLogger(t, "group")})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // registered first, so it runs after the electors' cleanups
		if err := g.Stop(context.Background()); err != nil {
			t.Errorf("group Stop: %v", err)
		}
	})
	return g
}

// Many electors in a group share one check and one batched confirmation:
// all lead their keys; losing one key ends only that term, with its
// reason, within a confirmation round; the others keep leading.
func TestGroupManyElections(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	g := startGroup(t, client)
	const n = 150 // more than two batches
	var es []*leader.Elector
	for i := 0; i < n; i++ {
		es = append(es, startElector(t, client, leader.Config{Key: fmt.Sprintf("svc/group/%d", i), Identity: "member"}, leader.WithGroup(g)))
	}
	waitFor(t, 30*time.Second, "all to lead", func() bool {
		for _, e := range es {
			if !e.IsLeader() {
				return false
			}
		}
		return true
	})
	// The batch loop keeps every term confirmed well inside its deadline.
	before := confirmed(es[n-1].Term())
	waitFor(t, 3*es[0].Config().ConfirmInterval, "a batch confirmation", func() bool {
		return confirmed(es[n-1].Term()).After(before)
	})

	victims := []struct {
		e      *leader.Elector
		reason error
		inject func(term *leader.Term) error
	}{
		{es[3], consulelect.ErrSessionInvalidated, func(term *leader.Term) error {
			_, err := client.Session().Destroy(term.Session(), nil)
			return err
		}},
		{es[100], consulelect.ErrKeyDeleted, func(term *leader.Term) error {
			_, err := client.KV().Delete(term.Key(), nil)
			return err
		}},
	}
	for _, v := range victims {
		term := v.e.Term()
		at := time.Now()
		if err := v.inject(term); err != nil {
			t.Fatal(err)
		}
		select {
		case <-term.Done():
		case <-time.After(v.e.Config().DemoteAfter):
			t.Fatalf("%s: term not ended within DemoteAfter", term.Key())
		}
		took := term.Ended().Sub(at)
		t.Logf("%s: loss detected in %v (%v)", term.Key(), took, term.Reason())
		if !errors.Is(term.Reason(), v.reason) {
			t.Errorf("%s: reason %v, want %v", term.Key(), term.Reason(), v.reason)
		}
		// Bound: one confirmation round (ConfirmInterval plus the batch's
		// round trips), not the deadline.
		if bound := v.e.Config().ConfirmInterval + 500*time.Millisecond; took > bound {
			t.Errorf("%s: detection took %v, more than a confirmation round %v", term.Key(), took, bound)
		}
	}
	for i, e := range es {
		if i != 3 && i != 100 && !e.IsLeader() {
			t.Errorf("elector %d lost leadership with the victims", i)
		}
	}
	waitFor(t, 10*time.Second, "the victims to lead again", func() bool { return es[3].IsLeader() && es[100].IsLeader() })
}

// A group behind a frozen path demotes every term at its deadline, before
// a candidate outside the group can acquire any of the keys.
func TestGroupHungPathDemotesBeforeSuccessor(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	proxy := consultest.NewProxy(t, srv.HTTPAddr)
	viaProxy, err := api.NewClient(proxy.Config(srv))
	if err != nil {
		t.Fatal(err)
	}
	g := startGroup(t, viaProxy)
	led := newLedger()
	var members []*leader.Elector
	for i := 0; i < 3; i++ {
		members = append(members, startElector(t, viaProxy, leader.Config{Key: fmt.Sprintf("svc/group-hung/%d", i), Identity: "member"},
			leader.WithGroup(g), leader.WithLeaderFunc(led.work(fmt.Sprintf("member-%d", i)))))
	}
	waitFor(t, 10*time.Second, "members to lead", func() bool {
		return members[0].IsLeader() && members[1].IsLeader() && members[2].IsLeader()
	})
	outsider := startElector(t, srv.Client(t), leader.Config{Key: "svc/group-hung/0", Identity: "outsider"},
		leader.WithLeaderFunc(led.work("outsider")))
	waitFor(t, 5*time.Second, "the outsider to follow", func() bool { return outsider.Status().Leader != nil })
	term := members[0].Term()

	proxy.Freeze()
	checkDemotedInTime(t, term, members[0].Config())
	waitFor(t, 30*time.Second, "the outsider to lead", outsider.IsLeader)
	if !outsider.Term().Started().After(term.Ended()) {
		t.Fatalf("outsider started %v before the member's term ended", term.Ended().Sub(outsider.Term().Started()))
	}
	proxy.Unfreeze()
}

func TestGroupMisuseIsRefused(t *testing.T) {
	client, _ := api.NewClient(api.DefaultConfig())
	g, err := leader.NewGroup(client, leader.GroupConfig{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = leader.New(client, leader.Config{Key: "k", SessionTTL: 20 * time.Second}, leader.WithGroup(g))
	if !errors.Is(err, consulelect.ErrInvalidConfig) {
		t.Fatalf("err = %v, want ErrInvalidConfig", err)
	}
	e, err := leader.New(client, leader.Config{Key: "k"}, leader.WithGroup(g))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); !errors.Is(err, leader.ErrNotRunning) {
		t.Fatalf("Start in a group not started: %v, want ErrNotRunning", err)
	}
}
