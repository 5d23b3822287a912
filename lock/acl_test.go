package lock_test

import (
	"errors"
	"testing"
	"time"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/lock"
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
