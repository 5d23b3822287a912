package leader_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/leader"
	"github.com/consulelect/consulelect/lock"
)

// Two WAN-joined datacenters: an elector on a dc1 agent with Datacenter
// "dc2" cannot lead (Consul refuses a session there that names a dc1
// node), and says so as a permanent error in Status instead of retrying
// it as a transient one; a candidate on a dc2 agent leads the same key.
func TestOtherDatacenterIsRefusedClearly(t *testing.T) {
	dc1 := consultest.DevServer(t, consultest.Options{})
	dc2 := consultest.DevServer(t, consultest.Options{Datacenter: "dc2", Bind: "127.0.0.3",
		Extra: map[string]any{"retry_join_wan": []string{dc1.SerfWANAddr}, "retry_interval_wan": "200ms"}})
	c1, c2 := dc1.Client(t), dc2.Client(t)
	waitFor(t, 30*time.Second, "dc1 to see dc2", func() bool {
		dcs, err := c1.Catalog().Datacenters()
		return err == nil && slices.Contains(dcs, "dc2")
	})
	const key = "svc/dc2-leader"
	remote := startElector(t, c1, leader.Config{Key: key, Identity: "from-dc1", Datacenter: "dc2"})
	local := startElector(t, c2, leader.Config{Key: key, Identity: "in-dc2"})
	waitFor(t, 10*time.Second, "the dc2 candidate to lead", local.IsLeader)
	waitFor(t, 10*time.Second, "a permanent error naming Datacenter", func() bool {
		err := remote.Status().LastError
		return errors.Is(err, consulelect.ErrPermanent) && strings.Contains(err.Error(), `Datacenter "dc2"`)
	})
	t.Logf("the dc1 elector's status: %v", remote.Status().LastError)
	if remote.IsLeader() {
		t.Fatal("the elector in dc1 leads a dc2 key")
	}

	// The locks say the same, at once.
	s, err := lock.NewSession(c1, lock.Config{Datacenter: "dc2"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	m, err := s.Mutex("svc/dc2-lock")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := m.Lock(ctx); !errors.Is(err, consulelect.ErrPermanent) || !strings.Contains(err.Error(), `Datacenter "dc2"`) {
		t.Errorf("Lock in another datacenter: %v, want ErrPermanent naming Datacenter", err)
	}
}
