package leader_test

import (
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/leader"
)

// A follower behind a foreign holder whose lock-delay is longer than ours
// (api.Lock, `consul lock` and python-consul use 15s) leads within
// LockDelay/10 of that lock-delay's end: it used to count our lock-delay
// again from each read, and so led up to a whole LockDelay late.
func TestForeignLockDelayIsWaitedOutOnTime(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	const key = "svc/foreign-delay"
	const theirs = 6 * time.Second
	foreign, _, err := client.Session().Create(&api.SessionEntry{Name: "foreign", LockDelay: theirs, Behavior: api.SessionBehaviorRelease}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, err := client.KV().Acquire(&api.KVPair{Key: key, Value: []byte("foreign"), Flags: api.LockFlagValue, Session: foreign}, nil); err != nil || !ok {
		t.Fatalf("foreign acquire: %v %v", ok, err)
	}
	e := startElector(t, client, cfgFor(key, "ours"))
	waitFor(t, 10*time.Second, "the follower to see the foreign holder", func() bool {
		st := e.Status()
		return st.Leader != nil && st.Leader.Foreign
	})
	if _, err := client.Session().Destroy(foreign, nil); err != nil {
		t.Fatal(err)
	}
	freed := time.Now()
	waitFor(t, 20*time.Second, "our elector to lead", e.IsLeader)
	took := e.Term().Started().Sub(freed)
	t.Logf("led %v after the foreign session went (its lock-delay %v, ours %v)", took, theirs, leader.DefaultLockDelay)
	if late := took - theirs; late > leader.DefaultLockDelay/10+500*time.Millisecond {
		t.Errorf("led %v after the foreign lock-delay ended, want at most LockDelay/10 (+500ms)", late)
	}
}
