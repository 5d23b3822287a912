package lock_test

import (
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/lock"
)

// foreignHolder holds key as api.Lock does (its flags, a session of its
// own with lock-delay delay) and returns that session's ID.
func foreignHolder(t *testing.T, client *api.Client, key string, delay time.Duration) string {
	t.Helper()
	id, _, err := client.Session().Create(&api.SessionEntry{Name: "foreign", LockDelay: delay, Behavior: api.SessionBehaviorRelease}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ok, _, err := client.KV().Acquire(&api.KVPair{Key: key, Value: []byte("foreign"), Flags: api.LockFlagValue, Session: id}, nil)
	if err != nil || !ok {
		t.Fatalf("foreign acquire: %v %v", ok, err)
	}
	return id
}

// A waiter behind a foreign holder whose lock-delay is longer than ours
// (api.Lock, `consul lock` and python-consul use 15s) acquires within
// LockDelay/10 of that lock-delay's end, with a handful of refused
// acquires: it used to retry once per round trip from the end of our own
// lock-delay on (about 780 requests a second).
func TestForeignLockDelayIsWaitedOutQuietly(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	p := consultest.NewFaultProxy(t, srv.HTTPAddr)
	const key = "svc/foreign-delay"
	const theirs = 6 * time.Second
	foreign := foreignHolder(t, client, key, theirs)

	s := newSession(t, p.Client(t, srv), lock.Config{Identity: "waiter"})
	got := make(chan *lock.Held, 1)
	go func() {
		l, err := mustMutex(t, s, key).Lock(ctxFor(t, 30*time.Second))
		if err != nil {
			t.Error(err)
		}
		got <- l
	}()
	acquires := consultest.Match{Method: "PUT", Path: "/v1/txn"}
	watch := consultest.Match{Method: "GET", Path: "/v1/kv/" + key, Query: "index="}
	consultest.WaitFor(t, 10*time.Second, "the waiter to watch the key", func() bool { return p.Count(watch) > 0 })
	before := p.Count(acquires)
	if _, err := client.Session().Destroy(foreign, nil); err != nil {
		t.Fatal(err)
	}
	freed := time.Now()
	l := <-got
	if l == nil {
		return
	}
	took := time.Since(freed)
	tries := p.Count(acquires) - before
	t.Logf("acquired %v after the foreign session went (its lock-delay %v, ours %v) with %d transactions", took, theirs, lock.DefaultLockDelay, tries)
	if late := took - theirs; late > lock.DefaultLockDelay/10+500*time.Millisecond {
		t.Errorf("acquired %v after the foreign lock-delay ended, want at most LockDelay/10 (+500ms)", late)
	}
	// 2.6s of our own lock-delay, then steps of 50, 100, 200 and 260ms
	// over the 3.4s left: about 17 refused acquires, and one that holds.
	if tries > 40 {
		t.Errorf("%d transactions while the foreign lock-delay was in force, want at most 40", tries)
	}
	if err := l.Unlock(ctxFor(t, 5*time.Second)); err != nil {
		t.Error(err)
	}
}
