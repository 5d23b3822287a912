package leader_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/leader"
)

// dnsLookup asks the agent's DNS interface for name's A records.
func dnsLookup(agent *consultest.Agent, name string) ([]string, error) {
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", agent.DNSAddr)
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	addrs, err := r.LookupHost(ctx, name)
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return nil, nil
	}
	slices.Sort(addrs)
	return addrs, err
}

// waitDNS waits until name answers exactly want, and returns how long it
// took.
func waitDNS(t *testing.T, agent *consultest.Agent, name string, want ...string) time.Duration {
	t.Helper()
	slices.Sort(want)
	start := time.Now()
	var got []string
	var err error
	consultest.WaitFor(t, 15*time.Second, name+" → "+join(want), func() bool {
		got, err = dnsLookup(agent, name)
		return err == nil && slices.Equal(got, want)
	})
	return time.Since(start)
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}

// With Advertise, the leader's registration is tagged "leader" and the
// others' "standby": a real DNS query to the agent answers
// leader.<service>.service.consul with the leader's address only, across a
// graceful handoff (the tag moves before the old term's work is cancelled)
// and a cut-off leader (its registration leaves DNS with its check, within
// CheckTTL; the successor's address follows when it leads).
func TestAdvertiseInDNS(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	const key, svc = "svc/advertised", "billing"
	addrs := map[string]string{"a": "127.0.0.21", "b": "127.0.0.22", "c": "127.0.0.23"}
	es := map[string]*leader.Elector{}
	var proxies = map[string]*consultest.Proxy{}
	// the tag of the leader's registration, as its own work sees it
	tagAtCancel := make(chan []string, 8)
	for _, id := range []string{"a", "b", "c"} {
		p := consultest.NewProxy(t, srv.HTTPAddr)
		c, err := api.NewClient(p.Config(srv))
		if err != nil {
			t.Fatal(err)
		}
		proxies[id] = p
		cfg := leader.Config{Key: key, Identity: id, Advertise: &leader.Advertise{Service: svc, Address: addrs[id], Port: 8080}}
		id := id
		es[id] = startElector(t, c, cfg, leader.WithLeaderFunc(func(ctx context.Context, term *leader.Term) error {
			<-ctx.Done()
			if errors.Is(context.Cause(ctx), leader.ErrResigned) {
				// The agent's own registrations: what it syncs to the catalog.
				svcs, err := client.Agent().ServicesWithFilter(`Service == "` + svc + `" and "leader" in Tags`)
				var who []string
				for _, s := range svcs {
					who = append(who, s.Address)
				}
				if err == nil {
					tagAtCancel <- who
				}
			}
			return nil
		}))
	}
	var cur string
	for id, e := range es {
		if waitLeader(t, 10*time.Second, es["a"], es["b"], es["c"]) == e {
			cur = id
		}
	}
	var standby []string
	for id, a := range addrs {
		if id != cur {
			standby = append(standby, a)
		}
	}
	took := waitDNS(t, srv, "leader."+svc+".service.consul", addrs[cur])
	waitDNS(t, srv, "standby."+svc+".service.consul", standby...)
	t.Logf("leader.%s.service.consul answers %s (%s) %v after it led", svc, addrs[cur], cur, took)

	// A graceful handoff: the leader tag is off the old leader before its
	// work is cancelled.
	start := time.Now()
	if err := es[cur].Resign(context.Background()); err != nil {
		t.Fatal(err)
	}
	next := waitLeader(t, 10*time.Second, es["a"], es["b"], es["c"])
	nid := next.Status().Identity
	waitDNS(t, srv, "leader."+svc+".service.consul", addrs[nid])
	t.Logf("handoff %s → %s: DNS answers the new leader %v after Resign", cur, nid, time.Since(start))
	select {
	case who := <-tagAtCancel:
		if slices.Contains(who, addrs[cur]) {
			t.Errorf("the old leader %s was still tagged leader when its work was cancelled: %v", cur, who)
		}
	case <-time.After(5 * time.Second):
		t.Error("the resigned term's work did not report")
	}

	// The leader cut off from Consul: its registration leaves DNS with its
	// check (CheckTTL), then the successor is tagged.
	proxies[nid].Freeze()
	cut := time.Now()
	gone := waitDNS(t, srv, "leader."+svc+".service.consul")
	t.Logf("cut-off leader %s left DNS %v after the cut", nid, gone)
	if gone > leader.DefaultCheckTTL+2*time.Second {
		t.Errorf("a cut-off leader stayed in DNS for %v", gone)
	}
	var after *leader.Elector
	waitFor(t, 15*time.Second, "a new leader", func() bool {
		for id, e := range es {
			if id != nid && e.IsLeader() {
				after = e
				return true
			}
		}
		return false
	})
	aid := after.Status().Identity
	waitDNS(t, srv, "leader."+svc+".service.consul", addrs[aid])
	t.Logf("after the cut: DNS answers the successor %s %v after the cut", aid, time.Since(cut))
	proxies[nid].Unfreeze()
}

// Advertise is checked at construction, naming the field.
func TestAdvertiseConfig(t *testing.T) {
	client, _ := api.NewClient(api.DefaultConfig())
	for _, a := range []leader.Advertise{{}, {Service: "x", LeaderTag: "same", StandbyTag: "same"}, {Service: "x", Port: 70000}, {Service: "x", Tags: []string{"leader"}}} {
		a := a
		if _, err := leader.New(client, leader.Config{Key: "k", Advertise: &a}); !errors.Is(err, consulelect.ErrInvalidConfig) {
			t.Errorf("%+v: %v, want ErrInvalidConfig", a, err)
		}
	}
}

// A client agent restarted without its state forgets every service
// registered through its API: the elector registers its check again, and
// the advertised service with it, also when its role does not change (a
// standby), not 30s later at the next reconcile.
func TestAdvertiseSurvivesAgentRestartWithoutState(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	agent := consultest.ClientAgent(t, srv, consultest.Options{Bind: "127.0.0.2"})
	adv := func(addr string) *leader.Advertise { return &leader.Advertise{Service: "restarted", Address: addr} }
	l := startElector(t, srv.Client(t), leader.Config{Key: "svc/advertise-restart", Identity: "on-server", Advertise: adv("127.0.0.31")})
	waitFor(t, 10*time.Second, "the server's elector to lead", l.IsLeader)
	startElector(t, agent.Client(t), leader.Config{Key: "svc/advertise-restart", Identity: "on-agent", Advertise: adv("127.0.0.32")})
	waitDNS(t, srv, "standby.restarted.service.consul", "127.0.0.32")
	agent.RestartWithoutState(t)
	back := time.Now()
	local := agent.Client(t).Agent()
	waitFor(t, 10*time.Second, "the standby registered on the agent again (the reconcile would take 30s)", func() bool {
		svcs, err := local.ServicesWithFilter(`Service == "restarted" and "standby" in Tags`)
		return err == nil && len(svcs) == 1
	})
	t.Logf("advertised again %v after the agent came back", time.Since(back))
	waitDNS(t, srv, "standby.restarted.service.consul", "127.0.0.32")
}
