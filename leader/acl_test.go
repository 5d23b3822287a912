package leader_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/leader"
)

// LeastPrivilegePolicy is the ACL policy the README documents for a
// service token: write on the election key, write on sessions, and write
// on the service that carries the session's check. Nothing else.
const leastPrivilegePolicy = `
key "svc/acl/leader" { policy = "write" }
session_prefix "" { policy = "write" }
service "consulelect" { policy = "write" }
`

// strategyPolicy is what the README documents for the strategies and
// handoff requests: the least-privilege rules with key_prefix (for
// <key>/.handoff) and node:read (the line of live candidates).
const strategyPolicy = `
key_prefix "svc/acl/leader" { policy = "write" }
session_prefix "" { policy = "write" }
service "consulelect" { policy = "write" }
node_prefix "" { policy = "read" }
`

// With ACLs enabled and default deny, a token with exactly the documented
// policy can campaign, lead, hand over and clean up; without node:read it
// cannot see the line of candidates, which Status says (first come leads,
// HandOff is refused); the strategy policy sees it and serves HandOff and
// RequestHandOff; a token without the session rule gets a permanent 403 in
// Status.
func TestLeastPrivilegeACLPolicy(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{ACL: true})
	svc, _ := clientWithPolicy(t, srv, "consulelect-svc", leastPrivilegePolicy)
	const key = "svc/acl/leader"
	e1 := startElector(t, svc, cfgFor(key, "e1"))
	waitFor(t, 10*time.Second, "e1 to lead with the least-privilege token", e1.IsLeader)
	e2 := startElector(t, svc, cfgFor(key, "e2"))
	waitFor(t, 5*time.Second, "e2 to follow", func() bool { return e2.Status().Leader != nil })
	if err := e1.Resign(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "e2 to lead after the resign", e2.IsLeader)
	for _, e := range []*leader.Elector{e1, e2} {
		if err := e.Status().LastError; err != nil {
			t.Errorf("%s: error with the documented policy: %v", e.Status().Identity, err)
		}
	}

	// Without node:read the catalog hides the candidates: Status says so,
	// and the first to acquire leads.
	if err := e2.Status().CandidatesError; err == nil || !strings.Contains(err.Error(), "ACL") {
		t.Errorf("CandidatesError without node:read: %v, want the ACL warning", err)
	}
	withNodes, _ := clientWithPolicy(t, srv, "consulelect-svc-nodes", strategyPolicy)
	e4 := startElector(t, withNodes, cfgFor(key, "e4"))
	e5 := startElector(t, withNodes, cfgFor(key, "e5"))
	sees := func(e *leader.Elector, id string) bool {
		st := e.Status()
		if st.CandidatesError != nil {
			return false
		}
		for _, c := range st.Candidates {
			if c.Identity == id {
				return true
			}
		}
		return false
	}
	waitFor(t, 10*time.Second, "e4 and e5 in each other's line", func() bool { return sees(e4, "e5") && sees(e5, "e4") })
	if err := e2.HandOff(context.Background(), "e4"); !errors.Is(err, leader.ErrNoCandidate) {
		t.Errorf("HandOff without node:read: %v, want ErrNoCandidate (it cannot see e4)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, e := range []*leader.Elector{e1, e2} {
		if err := e.Stop(ctx); err != nil {
			t.Fatal(err)
		}
	}
	cur := waitLeader(t, 10*time.Second, e4, e5)
	other := map[*leader.Elector]*leader.Elector{e4: e5, e5: e4}[cur]
	if err := cur.HandOff(ctx, other.Status().Identity); err != nil {
		t.Errorf("HandOff with the strategy policy: %v", err)
	}
	waitFor(t, 10*time.Second, "the other to lead after the handoff", other.IsLeader)
	if _, err := leader.RequestHandOff(ctx, withNodes, key, cur.Status().Identity); err != nil {
		t.Errorf("RequestHandOff with the strategy policy: %v", err)
	}
	waitFor(t, 10*time.Second, "the first to lead after the request", cur.IsLeader)

	noSession := strings.Replace(leastPrivilegePolicy, `session_prefix "" { policy = "write" }`, "", 1)
	noSessionClient, _ := clientWithPolicy(t, srv, "no-session", noSession)
	e3 := startElector(t, noSessionClient, cfgFor(key, "e3"))
	waitFor(t, 5*time.Second, "a 403 for the missing session rule", func() bool {
		var se api.StatusError
		return errors.As(e3.Status().LastError, &se) && se.Code == http.StatusForbidden
	})
}
