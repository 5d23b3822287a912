package leader_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/leader"
)

// The leader's own Status().Leader carries what followers read from the
// key: identity, hostname, pid, address, start time, metadata, candidate.
func TestLeaderHolderMatchesFollowers(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	const key = "svc/holder"
	cfg := cfgFor(key, "me")
	cfg.Address, cfg.Metadata = "10.0.0.7:8080", map[string]string{"zone": "a"}
	e1 := startElector(t, client, cfg)
	waitFor(t, 10*time.Second, "e1 to lead", e1.IsLeader)
	e2 := startElector(t, client, cfgFor(key, "other"))
	waitFor(t, 5*time.Second, "e2 to follow", func() bool { return e2.Status().Leader != nil })
	own, seen := *e1.Status().Leader, *e2.Status().Leader
	if own.Hostname == "" || own.PID == 0 || own.Started.IsZero() || own.ServiceID == "" || own.Foreign {
		t.Fatalf("leader's own holder is incomplete: %+v", own)
	}
	if own.ID != seen.ID || own.Hostname != seen.Hostname || own.PID != seen.PID || own.Address != seen.Address ||
		!own.Started.Equal(seen.Started) || own.ServiceID != seen.ServiceID || own.Session != seen.Session ||
		own.Metadata["zone"] != seen.Metadata["zone"] || own.ModifyIndex != seen.ModifyIndex {
		t.Errorf("leader sees itself as %+v, followers see %+v", own, seen)
	}
}

// Stop ends an elector started with Run, which then returns nil; Role and
// IsLeader never disagree, also around the end of a term.
func TestStopEndsRunAndRoleAgreesWithIsLeader(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	e, err := leader.New(client, cfgFor("svc/run-stop", "runner"), leader.WithLogger(testLogger(t, "runner")),
		leader.WithLeaderFunc(func(ctx context.Context, _ *leader.Term) error { <-ctx.Done(); return nil }))
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- e.Run(context.Background()) }()
	waitFor(t, 10*time.Second, "the elector to lead", e.IsLeader)

	disagreed := make(chan string, 1)
	sampled := make(chan struct{})
	stopSampling := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stopSampling:
				return
			default:
			}
			before := e.IsLeader()
			st := e.Status()
			after := e.IsLeader()
			if before == after && (st.Role == leader.RoleLeader) != before {
				select {
				case disagreed <- st.Role.String():
				default:
				}
			}
		}
	}()
	if err := e.Resign(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the elector to lead again", e.IsLeader)
	close(stopSampling)
	<-sampled
	select {
	case r := <-disagreed:
		t.Errorf("Status said %s while IsLeader said otherwise", r)
	default:
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Stop(ctx); err != nil {
		t.Fatalf("Stop of a Run elector: %v", err)
	}
	select {
	case err := <-ran:
		if err != nil {
			t.Errorf("Run returned %v after Stop", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after Stop")
	}
	if err := e.Stop(ctx); !errors.Is(err, leader.ErrNotRunning) {
		t.Errorf("second Stop: %v, want ErrNotRunning", err)
	}
}

// A Group whose token may not register the shared check's service reports
// the 403 in every member's Status, instead of leaving them following
// without an error.
func TestGroupReportsCheckErrorsToMembers(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{ACL: true})
	noService := `
key_prefix "svc/group-acl/" { policy = "write" }
session_prefix "" { policy = "write" }
`
	client, _ := clientWithPolicy(t, srv, "no-service", noService)
	g := startGroup(t, client)
	var es []*leader.Elector
	for i := 0; i < 3; i++ {
		es = append(es, startElector(t, client, cfgFor("svc/group-acl/"+name(i), name(i)), leader.WithGroup(g)))
	}
	for _, e := range es {
		waitFor(t, 5*time.Second, "a 403 in "+e.Status().Identity+"'s status", func() bool {
			var se api.StatusError
			return errors.As(e.Status().LastError, &se) && se.Code == http.StatusForbidden
		})
	}
}

// A permanent error on the acquire (a token that may read the key but not
// write it) is retried every PermanentErrorRetry from a fresh read of the
// key: once the policy is fixed, the elector leads within about
// PermanentErrorRetry, not after a follower's blocking wait on.
func TestACLFixTakesEffectAfterPermanentErrorRetry(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{ACL: true})
	root := srv.Client(t)
	const key = "svc/acl-fix/leader"
	rules := func(keyPolicy string) string {
		return `key "` + key + `" { policy = "` + keyPolicy + `" }
session_prefix "" { policy = "write" }
service "consulelect" { policy = "write" }`
	}
	client, p := clientWithPolicy(t, srv, "acl-fix", rules("read"))
	ecfg := cfgFor(key, "fixed")
	ecfg.PermanentErrorRetry = time.Second
	e := startElector(t, client, ecfg)
	waitFor(t, 10*time.Second, "a permanent error", func() bool { return leader.IsPermanent(e.Status().LastError) })
	p.Rules = rules("write")
	if _, _, err := root.ACL().PolicyUpdate(p, nil); err != nil {
		t.Fatal(err)
	}
	fixed := time.Now()
	waitFor(t, ecfg.PermanentErrorRetry+10*time.Second, "the elector to lead", e.IsLeader)
	took := time.Since(fixed)
	t.Logf("led %v after the policy was fixed (PermanentErrorRetry %v)", took, ecfg.PermanentErrorRetry)
	if took > ecfg.PermanentErrorRetry+2*time.Second {
		t.Errorf("led %v after the fix, want about PermanentErrorRetry (%v)", took, ecfg.PermanentErrorRetry)
	}
	if err := e.Status().LastError; err != nil {
		t.Errorf("error left in status: %v", err)
	}
}
