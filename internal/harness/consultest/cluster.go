package consultest

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// clusterFirstIP is the last byte of the address of the first server of a
// Cluster: servers use 127.0.0.11, .12, ..., away from the low addresses
// (127.0.0.1, .2, ...) that tests give client agents.
const clusterFirstIP = 11

// Cluster starts n servers (not in dev mode) with bootstrap_expect=n and
// raft_multiplier=1 (fast raft timeouts), server i on 127.0.0.(11+i) with
// its own ports and data directory; every server retry_joins all others.
// It waits until a raft leader exists and every server's node is registered
// and passing serfHealth. opts.Bind is ignored; opts.NodeName, if set, is
// suffixed with "-<i>". With opts.Net, each server runs on a host of that
// net instead (Agent.Host), with the same ports scheme.
func Cluster(t testing.TB, n int, opts Options) []*Agent {
	t.Helper()
	if n < 1 || clusterFirstIP+n > 255 {
		t.Fatalf("consultest: Cluster: bad server count %d", n)
	}
	servers := make([]*Agent, n)
	for i := range servers {
		o := opts
		o.Bind = fmt.Sprintf("127.0.0.%d", clusterFirstIP+i)
		if opts.NodeName != "" {
			o.NodeName = fmt.Sprintf("%s-%d", opts.NodeName, i)
		}
		if opts.Net != nil {
			name := o.NodeName
			if name == "" {
				name = fmt.Sprintf("server-%d", i)
			}
			o.Host = opts.Net.Host(name)
		}
		servers[i] = newAgent(t, o, true, false)
		servers[i].bootstrapExpect = n
	}
	boot(t, servers, func() {
		for _, s := range servers {
			s.retryJoin = nil
			for _, o := range servers {
				if o != s {
					s.retryJoin = append(s.retryJoin, o.SerfLANAddr)
				}
			}
		}
	})
	return servers
}

// RaftLeader returns the server that is the current raft leader, waiting up
// to 30s for one: a running, unpaused server whose /v1/status/leader names
// its own ServerAddr and on which every other running, unpaused server that
// answers agrees. Servers that are not running or are paused are skipped,
// so after the leader is killed it returns the newly elected one.
func RaftLeader(t testing.TB, servers []*Agent) *Agent {
	t.Helper()
	hc := newProbeClient()
	defer hc.CloseIdleConnections()
	deadline := time.Now().Add(readyTimeout)
	for {
		answers := make(map[*Agent]string)
		for _, s := range servers {
			if !s.Running() || s.Paused() {
				continue
			}
			var leader string
			if err := s.getJSON(hc, "/v1/status/leader", &leader); err == nil {
				answers[s] = leader
			}
		}
		if l := agreedLeader(servers, answers); l != nil {
			return l
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			for _, s := range servers {
				fmt.Fprintf(&b, "\n  %s (%s, running=%v paused=%v): leader %q", s.Name, s.ServerAddr, s.Running(), s.Paused(), answers[s])
			}
			t.Fatalf("consultest: no raft leader after %v:%s", readyTimeout, b.String())
		}
		time.Sleep(pollInterval)
	}
}

// agreedLeader returns the server that all answers name as leader, if it
// answered and names itself.
func agreedLeader(servers []*Agent, answers map[*Agent]string) *Agent {
	var addr string
	for _, l := range answers {
		if l == "" || (addr != "" && l != addr) {
			return nil
		}
		addr = l
	}
	if addr == "" {
		return nil
	}
	for _, s := range servers {
		if s.ServerAddr == addr {
			if answers[s] == addr {
				return s
			}
			return nil
		}
	}
	return nil
}
