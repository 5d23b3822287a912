package leader_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/leader"
)

// txnCounter counts /v1/txn requests: the acquire attempts (raft writes).
type txnCounter struct{ n atomic.Int64 }

func (c *txnCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/v1/txn") {
		c.n.Add(1)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// With many followers waiting, a release wakes them all, but only the
// first in line tries to acquire: attempts per handoff stay near one, and
// the handoff stays fast (well under LockDelay).
func TestHerdTakesFewAttempts(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	var count txnCounter
	cfg := srv.Config()
	cfg.HttpClient = &http.Client{Transport: &count}
	client, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	const key, followers, handoffs = "svc/herd", 20, 4
	var es []*leader.Elector
	for i := 0; i <= followers; i++ {
		es = append(es, startElector(t, client, leader.Config{Key: key, Identity: fmt.Sprintf("c%02d", i), ResignPause: 50 * time.Millisecond}))
	}
	var total int64
	for h := 0; h < handoffs; h++ {
		var cur *leader.Elector
		waitFor(t, 15*time.Second, "one leader and every other candidate following", func() bool {
			cur = nil
			following := 0
			for _, e := range es {
				if e.IsLeader() {
					cur = e
				} else if e.Status().Leader != nil {
					following++
				}
			}
			return cur != nil && following == followers
		})
		time.Sleep(100 * time.Millisecond) // the line (health catalog) has caught up
		before := count.n.Load()
		resigned := time.Now()
		if err := cur.Resign(context.Background()); err != nil {
			t.Fatal(err)
		}
		var next *leader.Elector
		waitFor(t, 5*time.Second, "the next leader", func() bool {
			for _, e := range es {
				if e != cur && e.IsLeader() {
					next = e
					return true
				}
			}
			return false
		})
		time.Sleep(200 * time.Millisecond) // late attempts, if any, land
		attempts := count.n.Load() - before
		total += attempts
		t.Logf("handoff %d: %v, %d acquire attempts", h, next.Term().Started().Sub(resigned), attempts)
		if took := next.Term().Started().Sub(resigned); took >= next.Config().LockDelay {
			t.Errorf("handoff took %v", took)
		}
	}
	if mean := float64(total) / handoffs; mean > 5 {
		t.Fatalf("%.1f acquire attempts per handoff with %d followers; want at most 5", mean, followers)
	}
}
