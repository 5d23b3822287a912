package partition_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/hashicorp/go-hclog"

	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/internal/harness/netns"
	"github.com/consulelect/consulelect/leader"
)

// world is three Consul servers and two candidate hosts, each in its own
// namespace. The electors run in the test process, which reaches every
// agent over its own port on the net; no fault cuts that port, so a
// candidate always reaches its own agent, as on a real host.
type world struct {
	t        *testing.T // the current (sub)test
	net      *netns.Net
	servers  []*consultest.Agent
	hosts    []*consultest.Agent
	electors []*leader.Elector
}

func (w *world) tb() testing.TB { return w.t }

func newWorld(t *testing.T) *world {
	t.Helper()
	if err := netns.Available(); err != nil {
		t.Skipf("SKIP: real partitions need network namespaces: %v", err)
	}
	n := netns.New(t)
	w := &world{t: t, net: n}
	// Faster gossip than Consul's LAN defaults, so that a cut-off node is
	// declared failed (and its sessions invalidated) within a few seconds.
	gossip := map[string]any{"gossip_lan": map[string]any{
		"probe_interval": "500ms", "probe_timeout": "250ms", "suspicion_mult": 3}}
	w.servers = consultest.Cluster(t, 3, consultest.Options{Net: n, NodeName: "server", Extra: gossip})
	for i := 1; i <= 2; i++ {
		name := fmt.Sprintf("host-%d", i)
		w.hosts = append(w.hosts, consultest.ClientAgent(t, w.servers[i%3],
			consultest.Options{Host: n.Host(name), NodeName: name, Extra: gossip}))
	}
	return w
}

// serverHosts returns the servers' hosts, in order.
func (w *world) serverHosts(servers ...*consultest.Agent) []*netns.Host {
	if len(servers) == 0 {
		servers = w.servers
	}
	var hs []*netns.Host
	for _, s := range servers {
		hs = append(hs, s.Host)
	}
	return hs
}

// terms records every term of the electors of one test, in one clock.
type terms struct {
	mu   sync.Mutex
	all  []*termRecord
	live map[string]*termRecord
}

type termRecord struct {
	who        string
	token      uint64
	start, end time.Time
	reason     error
}

func newTerms() *terms { return &terms{live: map[string]*termRecord{}} }

// work is a LeaderFunc that records the term from its start to the moment
// its context ends.
func (ts *terms) work(who string) leader.LeaderFunc {
	return func(ctx context.Context, term *leader.Term) error {
		r := &termRecord{who: who, token: term.Token(), start: time.Now()}
		ts.mu.Lock()
		ts.all = append(ts.all, r)
		ts.live[who] = r
		ts.mu.Unlock()
		<-ctx.Done()
		ts.mu.Lock()
		r.end, r.reason = time.Now(), term.Reason()
		delete(ts.live, who)
		ts.mu.Unlock()
		return nil
	}
}

// leading returns a copy of the live term and the number of live terms.
func (ts *terms) leading() (*termRecord, int) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	var one *termRecord
	for _, r := range ts.live {
		c := *r
		one = &c
	}
	return one, len(ts.live)
}

// snapshot copies the records.
func (ts *terms) snapshot() []termRecord {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	out := make([]termRecord, len(ts.all))
	for i, r := range ts.all {
		out[i] = *r
	}
	return out
}

// checkSafe fails t if two terms overlapped or a token did not increase.
func (ts *terms) checkSafe(t *testing.T) {
	t.Helper()
	rs := ts.snapshot()
	for i := 1; i < len(rs); i++ {
		prev, cur := rs[i-1], rs[i]
		if prev.end.IsZero() || cur.start.Before(prev.end) {
			t.Errorf("overlap: %s's term (token %d) started at %s while %s's (token %d) had not ended (end %s)",
				cur.who, cur.token, cur.start.Format("15:04:05.000"), prev.who, prev.token, prev.end.Format("15:04:05.000"))
		}
		if cur.token <= prev.token {
			t.Errorf("token did not increase: %d after %d", cur.token, prev.token)
		}
	}
}

// startElectors starts one elector per candidate host on key, each with
// its agent's client, or clients[i] for host i when given.
func (w *world) startElectors(t *testing.T, key string, ts *terms, cfg leader.Config, clients ...*api.Client) []*leader.Elector {
	t.Helper()
	var es []*leader.Elector
	for i, a := range w.hosts {
		c := cfg
		c.Key, c.Identity = key, a.Name
		client := a.Client(t)
		if i < len(clients) {
			client = clients[i]
		}
		e, err := leader.New(client, c, leader.WithLeaderFunc(ts.work(a.Name)),
			leader.WithLogger(hclog.New(&hclog.LoggerOptions{Name: a.Name, Output: testWriter{t}, Level: hclog.Info})))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- e.Run(ctx) }()
		t.Cleanup(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Errorf("elector %s did not stop", c.Identity)
			}
		})
		es = append(es, e)
	}
	w.electors = es
	return es
}

// testWriter sends log lines to t.Log while the test runs.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

// waitFor polls cond every 5ms up to timeout and returns how long it took.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	consultest.WaitFor(t, timeout, what, cond)
	return time.Since(start)
}
