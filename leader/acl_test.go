package leader_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/internal/consultest"
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

// With ACLs enabled and default deny, a token with exactly the documented
// policy can campaign, lead, hand over and clean up; a token without the
// session rule gets a permanent 403 in Status.
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

	noSession := strings.Replace(leastPrivilegePolicy, `session_prefix "" { policy = "write" }`, "", 1)
	noSessionClient, _ := clientWithPolicy(t, srv, "no-session", noSession)
	e3 := startElector(t, noSessionClient, cfgFor(key, "e3"))
	waitFor(t, 5*time.Second, "a 403 for the missing session rule", func() bool {
		var se api.StatusError
		return errors.As(e3.Status().LastError, &se) && se.Code == http.StatusForbidden
	})
}
