package leader_test

import (
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/leader"
)

// A leader learns of every way the lock can be lost within one
// blocking-query round trip (well before ConfirmInterval, the longest a
// confirming query waits), cleans up, and campaigns again with a fresh
// session: never a zombie that holds the key while not leading.
func TestLossDetection(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	tests := []struct {
		name   string
		reason error
		inject func(t *testing.T, key string, term *leader.Term)
	}{
		{"session destroyed", consulelect.ErrSessionInvalidated, func(t *testing.T, key string, term *leader.Term) {
			if _, err := client.Session().Destroy(term.Session(), nil); err != nil {
				t.Fatal(err)
			}
		}},
		{"key deleted", consulelect.ErrKeyDeleted, func(t *testing.T, key string, term *leader.Term) {
			if _, err := client.KV().Delete(key, nil); err != nil {
				t.Fatal(err)
			}
		}},
		{"key released by operator", consulelect.ErrKeyReleased, func(t *testing.T, key string, term *leader.Term) {
			if ok, _, err := client.KV().Release(&api.KVPair{Key: key, Session: term.Session()}, nil); err != nil || !ok {
				t.Fatalf("release: %v %v", ok, err)
			}
		}},
		{"key taken by another session", consulelect.ErrKeyTaken, func(t *testing.T, key string, term *leader.Term) {
			other, _, err := client.Session().Create(&api.SessionEntry{Name: "intruder", LockDelay: time.Millisecond}, nil)
			if err != nil {
				t.Fatal(err)
			}
			// Atomically: delete the key and lock it for the intruder.
			ok, resp, _, err := client.Txn().Txn(api.TxnOps{
				{KV: &api.KVTxnOp{Verb: api.KVDelete, Key: key}},
				{KV: &api.KVTxnOp{Verb: api.KVLock, Key: key, Session: other, Value: []byte("intruder")}},
			}, nil)
			if err != nil || !ok {
				t.Fatalf("take over: %v %v %+v", ok, err, resp)
			}
			t.Cleanup(func() { client.Session().Destroy(other, nil) })
			time.AfterFunc(100*time.Millisecond, func() { client.Session().Destroy(other, nil) })
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := "svc/loss/" + string(rune('a'+i))
			led := newLedger()
			e := startElector(t, client, cfgFor(key, "solo"), leader.WithLeaderFunc(led.work("solo")))
			waitFor(t, 10*time.Second, "leadership", e.IsLeader)
			term := e.Term()
			confirmInterval := e.Config().ConfirmInterval
			// Let one confirming query be in flight, parked on the key.
			time.Sleep(confirmInterval / 5)
			at := time.Now()
			tt.inject(t, key, term)
			select {
			case <-term.Done():
			case <-time.After(e.Config().DemoteAfter):
				t.Fatalf("term not ended within DemoteAfter")
			}
			detect := term.Ended().Sub(at)
			t.Logf("loss detected in %v, reason %v", detect, term.Reason())
			if detect >= confirmInterval {
				t.Errorf("detection took %v, not within one round trip (< ConfirmInterval %v)", detect, confirmInterval)
			}
			if !errors.Is(term.Reason(), tt.reason) {
				t.Errorf("reason %v, want %v", term.Reason(), tt.reason)
			}
			// Campaigns again with a fresh session and a higher token.
			waitFor(t, 10*time.Second, "a new term", func() bool {
				nt := e.Term()
				return nt != nil && nt.Session() != term.Session()
			})
			if nt := e.Term(); nt.Token() <= term.Token() {
				t.Errorf("new term token %d not above %d", nt.Token(), term.Token())
			}
			// No zombie: the old session is gone and holds nothing.
			waitFor(t, 5*time.Second, "the old session to be destroyed", func() bool {
				s, _, err := client.Session().Info(term.Session(), nil)
				return err == nil && s == nil
			})
			pair, _, err := client.KV().Get(key, nil)
			if err != nil || pair == nil || pair.Session != e.Term().Session() {
				t.Errorf("key not held by the new session: %+v %v", pair, err)
			}
			led.checkNoOverlap(t)
		})
	}
}
