package consultest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

func TestRestartWithoutState(t *testing.T) {
	t.Parallel()
	s := DevServer(t, Options{Bind: "127.0.0.30"})
	c := ClientAgent(t, s, Options{Bind: "127.0.0.31"})
	cc, sc := c.Client(t), s.Client(t)
	reg := &api.AgentServiceRegistration{
		ID:    "web-1",
		Name:  "web",
		Check: &api.AgentServiceCheck{CheckID: "web-ttl", TTL: "30s"},
	}
	register(t, cc, sc, reg)
	// A session that names the TTL check besides serfHealth.
	sid, _, err := sc.Session().Create(&api.SessionEntry{
		Node: c.Name, Checks: []string{"serfHealth", "web-ttl"}, LockDelay: time.Millisecond,
	}, nil)
	if err != nil {
		t.Fatalf("session create: %v", err)
	}
	nodeID := readNodeID(t, c)
	pid := c.PID()

	start := time.Now()
	c.RestartWithoutState(t)
	restarted := time.Now()
	t.Logf("RestartWithoutState took %v; catalog still had the service when it returned: %v",
		restarted.Sub(start).Round(time.Millisecond), catalogHas(t, sc, "web", c.Name))
	if c.PID() == pid || !c.Running() {
		t.Fatalf("pid %d after RestartWithoutState, was %d", c.PID(), pid)
	}

	// The agent forgot the service and its check.
	svcs, err := cc.Agent().Services()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := svcs["web-1"]; ok {
		t.Fatalf("agent still has the service after RestartWithoutState: %v", svcs)
	}
	checks, err := cc.Agent().Checks()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := checks["web-ttl"]; ok {
		t.Fatalf("agent still has the check after RestartWithoutState: %v", checks)
	}
	files, err := os.ReadDir(filepath.Join(c.DataDir, "services"))
	t.Logf("services directory after the restart: %d files (%v)", len(files), err)

	// It kept its node ID and is a cluster member again: it sees the
	// server alive, and the server sees it alive.
	if got := readNodeID(t, c); got != nodeID {
		t.Fatalf("node-id %q after RestartWithoutState, was %q", got, nodeID)
	}
	if node, _, err := sc.Catalog().Node(c.Name, nil); err != nil || node == nil || node.Node.ID != nodeID {
		t.Fatalf("catalog node %s: %+v %v, want ID %s", c.Name, node, err, nodeID)
	}
	waitFor(t, 10*time.Second, "client and server see each other alive", func() bool {
		return memberAlive(cc, s.Name) && memberAlive(sc, c.Name)
	})

	// The servers drop the stale service at the agent's first anti-entropy
	// sync, and with the check the session that named it.
	waitFor(t, 5*time.Second, "stale service deregistered from the catalog", func() bool {
		return !catalogHas(t, sc, "web", c.Name)
	})
	t.Logf("stale service gone from the catalog %v after RestartWithoutState returned",
		time.Since(restarted).Round(time.Millisecond))
	waitFor(t, 5*time.Second, "session naming the forgotten check invalidated", func() bool {
		se, _, err := sc.Session().Info(sid, nil)
		return err == nil && se == nil
	})

	// Registered again, the service is back in the catalog.
	register(t, cc, sc, reg)
}

// register registers reg on the agent of cc, passes its TTL check and waits
// until the catalog of sc shows the service.
func register(t *testing.T, cc, sc *api.Client, reg *api.AgentServiceRegistration) {
	t.Helper()
	if err := cc.Agent().ServiceRegister(reg); err != nil {
		t.Fatalf("service register: %v", err)
	}
	if err := cc.Agent().PassTTL(reg.Check.CheckID, ""); err != nil {
		t.Fatalf("pass TTL: %v", err)
	}
	node, err := cc.Agent().NodeName()
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "service in the catalog", func() bool {
		return catalogHas(t, sc, reg.Name, node)
	})
}

// catalogHas reports whether the catalog lists service on node.
func catalogHas(t *testing.T, c *api.Client, service, node string) bool {
	t.Helper()
	svcs, _, err := c.Catalog().Service(service, "", nil)
	if err != nil {
		t.Fatalf("catalog service %s: %v", service, err)
	}
	for _, s := range svcs {
		if s.Node == node {
			return true
		}
	}
	return false
}

// memberAlive reports whether the agent of c lists name as an alive LAN
// member.
func memberAlive(c *api.Client, name string) bool {
	const alive = 1 // serf.StatusAlive, see api.AgentMember.Status
	members, err := c.Agent().Members(false)
	if err != nil {
		return false
	}
	for _, m := range members {
		if m.Name == name {
			return m.Status == alive
		}
	}
	return false
}

// readNodeID returns the contents of the node-id file of a.
func readNodeID(t *testing.T, a *Agent) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(a.DataDir, nodeIDFile))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRestartWithoutStateDevServer(t *testing.T) {
	t.Parallel()
	s := DevServer(t, Options{Bind: "127.0.0.32"})
	kv := s.Client(t).KV()
	if _, err := kv.Put(&api.KVPair{Key: "k", Value: []byte("v")}, nil); err != nil {
		t.Fatal(err)
	}
	nodeID := readNodeID(t, s)
	s.RestartWithoutState(t)
	if got := readNodeID(t, s); got != nodeID {
		t.Fatalf("node-id %q after RestartWithoutState, was %q", got, nodeID)
	}
	if p, _, err := kv.Get("k", nil); err != nil || p != nil {
		t.Fatalf("key after RestartWithoutState of a dev server: %v %v, want none", p, err)
	}
}

func TestRestartWithoutStateRefusesRaftServer(t *testing.T) {
	t.Parallel()
	tb, cleanup := Standalone()
	defer cleanup()
	a := &Agent{Name: "raft-server", Server: true}
	err := Catch(func() { a.RestartWithoutState(tb) })
	if err == nil || !strings.Contains(err.Error(), "raft server") {
		t.Fatalf("RestartWithoutState of a raft server: %v, want a refusal", err)
	}
}
