package consultest

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

func TestDevServerKV(t *testing.T) {
	t.Parallel()
	start := time.Now()
	a := DevServer(t, Options{})
	t.Logf("dev server ready after %v", time.Since(start).Round(time.Millisecond))
	kv := a.Client(t).KV()
	if _, err := kv.Put(&api.KVPair{Key: "k", Value: []byte("v")}, nil); err != nil {
		t.Fatal(err)
	}
	p, _, err := kv.Get("k", nil)
	if err != nil || p == nil || string(p.Value) != "v" {
		t.Fatalf("get: %v %v", p, err)
	}
	// Readiness includes the node registration: a session can be created
	// right away.
	if _, _, err := a.Client(t).Session().Create(&api.SessionEntry{TTL: "10s"}, nil); err != nil {
		t.Fatalf("session create: %v", err)
	}
}

func TestDevServerACL(t *testing.T) {
	t.Parallel()
	start := time.Now()
	a := DevServer(t, Options{ACL: true, Bind: "127.0.0.3"})
	t.Logf("ACL dev server ready after %v", time.Since(start).Round(time.Millisecond))
	if _, err := a.Client(t).KV().Put(&api.KVPair{Key: "k", Value: []byte("v")}, nil); err != nil {
		t.Fatal(err)
	}
	cfg := a.Config()
	cfg.Token = "anonymous"
	anon := newClient(t, cfg)
	if _, err := anon.KV().Put(&api.KVPair{Key: "k", Value: []byte("x")}, nil); err == nil {
		t.Fatal("anonymous write allowed with default_policy deny")
	}
	c := ClientAgent(t, a, Options{Bind: "127.0.0.4"})
	if !c.ACL {
		t.Fatal("client agent of an ACL server has no ACLs")
	}
	if _, _, err := c.Client(t).Session().Create(&api.SessionEntry{TTL: "10s"}, nil); err != nil {
		t.Fatalf("session on ACL client agent: %v", err)
	}
}

func TestClientAgent(t *testing.T) {
	t.Parallel()
	s := DevServer(t, Options{})
	start := time.Now()
	c := ClientAgent(t, s, Options{Bind: "127.0.0.2"})
	t.Logf("client agent ready after %v", time.Since(start).Round(time.Millisecond))
	if c.Server || c.ServerAddr != "" {
		t.Fatalf("client agent is a server: %+v", c)
	}
	cc := c.Client(t)
	nodes, _, err := cc.Catalog().Nodes(nil)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, n := range nodes {
		found = found || n.Node == s.Name
	}
	if !found {
		t.Fatalf("client does not see server node %s in %v", s.Name, nodes)
	}
	// A session on the client's node (default check serfHealth).
	id, _, err := cc.Session().Create(&api.SessionEntry{Name: "t", LockDelay: time.Millisecond}, nil)
	if err != nil {
		t.Fatalf("session create: %v", err)
	}

	// Pause the client: the server marks its serfHealth critical, which
	// invalidates the session.
	sc := s.Client(t)
	c.Pause(t)
	paused := time.Now()
	waitFor(t, 30*time.Second, "serfHealth critical", func() bool {
		return serfHealth(t, sc, c.Name) == api.HealthCritical
	})
	t.Logf("serfHealth of a SIGSTOPped client agent critical after %v", time.Since(paused).Round(time.Millisecond))
	waitFor(t, 5*time.Second, "session invalidated", func() bool {
		se, _, err := sc.Session().Info(id, nil)
		return err == nil && se == nil
	})
	t.Logf("its session invalidated after %v", time.Since(paused).Round(time.Millisecond))
	c.Resume(t)
	resumed := time.Now()
	waitFor(t, 30*time.Second, "serfHealth passing", func() bool {
		return serfHealth(t, sc, c.Name) == api.HealthPassing
	})
	t.Logf("serfHealth passing again %v after SIGCONT", time.Since(resumed).Round(time.Millisecond))

	// Graceful stop: the node leaves, its serfHealth check is deregistered
	// and its sessions are invalidated.
	id, _, err = cc.Session().Create(&api.SessionEntry{Name: "t", LockDelay: time.Millisecond}, nil)
	if err != nil {
		t.Fatalf("session create: %v", err)
	}
	start = time.Now()
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		c.Stop(t)
	}()
	waitFor(t, 10*time.Second, "session invalidated", func() bool {
		se, _, err := sc.Session().Info(id, nil)
		return err == nil && se == nil
	})
	t.Logf("session of the stopping client invalidated %v after SIGTERM", time.Since(start).Round(time.Millisecond))
	<-stopped
	node, _, _ := sc.Catalog().Node(c.Name, nil)
	t.Logf("client agent Stop (graceful leave) took %v; node still in catalog: %v, serfHealth %q",
		time.Since(start).Round(time.Millisecond), node != nil, serfHealth(t, sc, c.Name))
	c.Restart(t)

	// Crash: the node stays registered with serfHealth critical.
	c.Kill(t)
	killed := time.Now()
	waitFor(t, 30*time.Second, "serfHealth critical", func() bool {
		return serfHealth(t, sc, c.Name) == api.HealthCritical
	})
	t.Logf("serfHealth of a SIGKILLed client agent critical after %v", time.Since(killed).Round(time.Millisecond))
	c.Restart(t)
}

func TestPauseResume(t *testing.T) {
	t.Parallel()
	a := DevServer(t, Options{})
	kv := a.Client(t).KV()
	get := func(d time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		_, _, err := kv.Get("k", (&api.QueryOptions{}).WithContext(ctx))
		return err
	}
	if err := get(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	a.Pause(t)
	if !a.Paused() || !a.Running() {
		t.Fatal("not paused")
	}
	start := time.Now()
	if err := get(300 * time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("request to a paused agent: err %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("request to a paused agent took %v", d)
	}
	a.Resume(t)
	if err := get(5 * time.Second); err != nil {
		t.Fatalf("after resume: %v", err)
	}
}

func TestKillRestart(t *testing.T) {
	t.Parallel()
	a := DevServer(t, Options{Bind: "127.0.0.5"})
	kv := a.Client(t).KV()
	if _, err := kv.Put(&api.KVPair{Key: "k", Value: []byte("v")}, nil); err != nil {
		t.Fatal(err)
	}
	pid := a.PID()
	a.Kill(t)
	if a.Running() {
		t.Fatal("running after Kill")
	}
	if _, _, err := kv.Get("k", nil); err == nil {
		t.Fatal("request to a killed agent succeeded")
	}
	start := time.Now()
	a.Restart(t)
	t.Logf("dev server restarted after %v", time.Since(start).Round(time.Millisecond))
	if a.PID() == pid || !a.Running() {
		t.Fatalf("pid %d after restart, was %d", a.PID(), pid)
	}
	p, _, err := kv.Get("k", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("key after restart of a dev server: %v (state is in memory)", p)

	start = time.Now()
	a.Stop(t)
	t.Logf("dev server stopped in %v", time.Since(start).Round(time.Millisecond))
	a.Restart(t)
	if _, err := kv.Put(&api.KVPair{Key: "k", Value: []byte("v")}, nil); err != nil {
		t.Fatal(err)
	}
	a.Pause(t)
	a.Kill(t) // SIGKILL works on a stopped process
}

func TestPortConflictRetry(t *testing.T) {
	t.Parallel()
	a := newAgent(t, Options{Bind: "127.0.0.8"}, true, true)
	taken := a.HTTPAddr
	ln, err := net.Listen("tcp", taken)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	boot(t, []*Agent{a}, nil)
	if a.HTTPAddr == taken {
		t.Fatalf("agent runs on the taken address %s", taken)
	}
	if _, err := a.Client(t).KV().Put(&api.KVPair{Key: "k"}, nil); err != nil {
		t.Fatal(err)
	}
}

// serfHealth returns the status of node's serfHealth check, "" if none.
func serfHealth(t *testing.T, c *api.Client, node string) string {
	t.Helper()
	checks, _, err := c.Health().Node(node, nil)
	if err != nil {
		return ""
	}
	for _, ch := range checks {
		if ch.CheckID == "serfHealth" {
			return ch.Status
		}
	}
	return ""
}

// waitFor polls cond every 25ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}
