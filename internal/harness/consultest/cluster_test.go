package consultest

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

func TestClusterLeaderFailover(t *testing.T) {
	t.Parallel()
	start := time.Now()
	servers := Cluster(t, 3, Options{})
	t.Logf("3-server cluster ready after %v", time.Since(start).Round(time.Millisecond))
	leader := RaftLeader(t, servers)

	// Failure detection of a paused client agent with Consul's default
	// (non-dev) gossip settings.
	c := ClientAgent(t, servers[0], Options{Bind: "127.0.0.7"})
	id, _, err := c.Client(t).Session().Create(&api.SessionEntry{LockDelay: time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	lc := leader.Client(t)
	c.Pause(t)
	paused := time.Now()
	waitFor(t, 60*time.Second, "serfHealth critical", func() bool {
		return serfHealth(t, lc, c.Name) == api.HealthCritical
	})
	t.Logf("cluster: serfHealth of a SIGSTOPped client agent critical after %v", time.Since(paused).Round(time.Millisecond))
	waitFor(t, 5*time.Second, "session invalidated", func() bool {
		se, _, err := lc.Session().Info(id, nil)
		return err == nil && se == nil
	})
	c.Kill(t)

	if _, err := leader.Client(t).KV().Put(&api.KVPair{Key: "k", Value: []byte("v")}, nil); err != nil {
		t.Fatal(err)
	}

	leader.Kill(t)
	killed := time.Now()
	next := RaftLeader(t, servers)
	t.Logf("new raft leader %s %v after SIGKILL of leader %s", next.Name, time.Since(killed).Round(time.Millisecond), leader.Name)
	if next == leader {
		t.Fatal("killed server is still the leader")
	}
	p, _, err := next.Client(t).KV().Get("k", nil)
	if err != nil || p == nil || string(p.Value) != "v" {
		t.Fatalf("get from new leader: %v %v", p, err)
	}

	start = time.Now()
	leader.Restart(t)
	t.Logf("killed server restarted and ready after %v", time.Since(start).Round(time.Millisecond))
	if l := RaftLeader(t, servers); l == nil {
		t.Fatal("no leader")
	}
	p, _, err = leader.Client(t).KV().Get("k", nil)
	if err != nil || p == nil || string(p.Value) != "v" {
		t.Fatalf("get from restarted server: %v %v", p, err)
	}
}

func TestClusterACL(t *testing.T) {
	t.Parallel()
	servers := Cluster(t, 3, Options{ACL: true, NodeName: "acl"})
	for i, s := range servers {
		if want := fmt.Sprintf("acl-%d", i); s.Name != want || !s.ACL || !s.Server {
			t.Fatalf("server %d: name %q acl %v server %v", i, s.Name, s.ACL, s.Server)
		}
	}
	c := ClientAgent(t, servers[1], Options{Bind: "127.0.0.10"})
	if _, _, err := c.Client(t).Session().Create(&api.SessionEntry{}, nil); err != nil {
		t.Fatalf("session on a client agent of an ACL cluster: %v", err)
	}
	cfg := RaftLeader(t, servers).Config()
	cfg.Token = ""
	if _, err := newClient(t, cfg).KV().Put(&api.KVPair{Key: "k"}, nil); err == nil {
		t.Fatal("anonymous write allowed")
	}
}
