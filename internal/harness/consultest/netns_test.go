package consultest

import (
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/internal/harness/netns"
)

// A cluster and a client agent in network namespaces: the servers see the
// client's node fail when it is cut off, and pass again after the heal.
func TestClusterInNamespaces(t *testing.T) {
	if err := netns.Available(); err != nil {
		t.Skipf("SKIP: agents in network namespaces need them: %v", err)
	}
	n := netns.New(t)
	servers := Cluster(t, 3, Options{Net: n, NodeName: "server"})
	c := ClientAgent(t, servers[0], Options{Host: n.Host("client"), NodeName: "client"})
	if c.Bind != c.Host.IP || servers[0].Host == nil || servers[0].Bind != servers[0].Host.IP {
		t.Fatalf("agents not bound to their hosts' addresses: %s on %v", c.Bind, c.Host)
	}
	lc := RaftLeader(t, servers).Client(t)
	var hosts []*netns.Host
	for _, s := range servers {
		hosts = append(hosts, s.Host)
	}
	n.Partition([]*netns.Host{c.Host}, hosts)
	cut := time.Now()
	waitFor(t, 60*time.Second, "the cut-off client's serfHealth critical", func() bool {
		return serfHealth(t, lc, c.Name) == api.HealthCritical
	})
	t.Logf("serfHealth of a cut-off client agent critical after %v (Consul's default gossip)", time.Since(cut).Round(time.Millisecond))
	n.Heal()
	healed := time.Now()
	waitFor(t, 60*time.Second, "the client's serfHealth passing again", func() bool {
		return serfHealth(t, lc, c.Name) == api.HealthPassing
	})
	t.Logf("serfHealth passing %v after the heal", time.Since(healed).Round(time.Millisecond))
}
