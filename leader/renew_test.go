package leader_test

import (
	"context"
	"testing"
	"time"

	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/leader"
)

// A follower's session is renewed every 1.5*SessionTTL, a leader's every
// SessionTTL/2: over 2*SessionTTL + 3s (past the moment Consul expires a
// session not renewed) the follower keeps its one session with one or two
// renewals, the leader renews four times or more, and once the follower
// leads its session is renewed at once.
func TestFollowerSessionIsRenewedLessOften(t *testing.T) {
	t.Parallel()
	srv := consultest.DevServer(t, consultest.Options{})
	lp, fp := consultest.NewFaultProxy(t, srv.HTTPAddr), consultest.NewFaultProxy(t, srv.HTTPAddr)
	renewals := func(p *consultest.FaultProxy) int {
		return p.Count(consultest.Match{Method: "PUT", Path: "/v1/session/renew/"})
	}
	l := startElector(t, lp.Client(t, srv), cfgFor("renew/k", "leader"))
	waitLeader(t, 10*time.Second, l)
	f := startElector(t, fp.Client(t, srv), cfgFor("renew/k", "follower"))
	var session string
	waitFor(t, 10*time.Second, "the follower's session", func() bool {
		entries, _, err := srv.Client(t).Session().List(nil)
		if err != nil {
			return false
		}
		for _, e := range entries {
			if e.Name == "consulelect renew/k follower" {
				session = e.ID
			}
		}
		return session != ""
	})
	l0, f0 := renewals(lp), renewals(fp)
	window := 2*leader.DefaultSessionTTL + 3*time.Second
	time.Sleep(window)
	lr, fr := renewals(lp)-l0, renewals(fp)-f0
	t.Logf("in %v: leader %d renewals, follower %d", window, lr, fr)
	if info, _, err := srv.Client(t).Session().Info(session, nil); err != nil || info == nil {
		t.Fatalf("the follower's session %s is gone after %v: %v", session, window, err)
	}
	if fr < 1 || fr > 2 {
		t.Errorf("follower renewed %d times in %v, want 1 or 2 (every 1.5*SessionTTL)", fr, window)
	}
	if lr < 4 {
		t.Errorf("leader renewed %d times in %v, want at least 4 (every SessionTTL/2)", lr, window)
	}

	before := renewals(fp)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	waitLeader(t, 10*time.Second, f)
	if got := f.Status().Term.Session(); got != session {
		t.Fatalf("the follower leads with session %s, want its waiting session %s", got, session)
	}
	waitFor(t, 2*time.Second, "the new leader's session renewed", func() bool { return renewals(fp) > before })
}
