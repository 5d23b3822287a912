package lock_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/lock"
	"github.com/hashicorp/consul/api"
)

// With ACLs (default deny), a token with write on the lock's keys, on
// sessions and on the check's service can lock; without the key rule,
// Lock returns a permanent error at once instead of retrying until its
// ctx ends.
func TestLockACL(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{ACL: true})
	const rules = `
key_prefix "acl/lock" { policy = "write" }
session_prefix "" { policy = "write" }
service_prefix "consulelect-lock" { policy = "write" }
`
	ok, _ := consultest.ClientWithPolicy(t, srv, "locker", rules)
	s := newSession(t, ok, lock.Config{Identity: "ok"})
	l, err := mustMutex(t, s, "acl/lock").Lock(ctxFor(t, 10*time.Second))
	if err != nil {
		t.Fatalf("Lock with the documented policy: %v", err)
	}
	_ = l.Unlock(ctxFor(t, 5*time.Second))

	denied, _ := consultest.ClientWithPolicy(t, srv, "no-key", `
session_prefix "" { policy = "write" }
service_prefix "consulelect-lock" { policy = "write" }
`)
	d := newSession(t, denied, lock.Config{Identity: "denied"})
	start := time.Now()
	_, err = mustMutex(t, d, "acl/lock").Lock(ctxFor(t, 20*time.Second))
	if !errors.Is(err, consulelect.ErrPermanent) {
		t.Errorf("Lock without the key rule: %v, want ErrPermanent", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the permanent error took %v (spun on it?)", took)
	}
	t.Logf("denied: %v after %v", err, time.Since(start))
}

// A token that cannot register the Session's check (the anonymous token
// under default deny, or a token the servers do not know) is a permanent
// error: TryLock, Lock and Do return it at once, saying it is an ACL
// matter, instead of waiting for their ctx.
func TestLockWithoutCheckRightsFailsAtOnce(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{ACL: true})
	for _, tc := range []struct{ name, token string }{
		{"anonymous", ""},
		{"unknown token", "00000000-0000-4000-8000-000000000bad"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := srv.Config()
			cfg.Token = tc.token
			client, err := api.NewClient(cfg)
			if err != nil {
				t.Fatal(err)
			}
			s := newSession(t, client, lock.Config{Identity: "no-rights"})
			for _, op := range []struct {
				name string
				do   func() error
			}{
				{"TryLock", func() error { _, err := mustMutex(t, s, "acl/none").TryLock(ctxFor(t, 20*time.Second)); return err }},
				{"Lock", func() error { _, err := mustMutex(t, s, "acl/none").Lock(ctxFor(t, 20*time.Second)); return err }},
				{"Do", func() error {
					return s.Do(ctxFor(t, 20*time.Second), "acl/none", func(context.Context, uint64) error { return nil })
				}},
			} {
				start := time.Now()
				err := op.do()
				took := time.Since(start)
				t.Logf("%s: %v after %v", op.name, err, took)
				if !errors.Is(err, consulelect.ErrPermanent) || !strings.Contains(err.Error(), "ACL") && !strings.Contains(err.Error(), "Permission denied") {
					t.Errorf("%s: %v, want ErrPermanent naming the ACL denial", op.name, err)
				}
				if took > 5*time.Second {
					t.Errorf("%s took %v to fail (waited for its ctx?)", op.name, took)
				}
			}
		})
	}
}

// With the agent unreachable, a Lock ends with its ctx, and its error
// carries the last Consul error (the check's registration refused), not
// ctx's error alone.
func TestLockWithConsulDownSaysWhy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := api.DefaultConfig()
	cfg.Address = ln.Addr().String() // closed below: connections are refused
	_ = ln.Close()
	client, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := newSession(t, client, lock.Config{Identity: "alone"})
	_, err = mustMutex(t, s, "down/x").Lock(ctxFor(t, 2*time.Second))
	t.Logf("Lock: %v", err)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Lock with Consul down: %v, want the deadline with the last Consul error", err)
	}
}
