package leadertest

import (
	"testing"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/internal/harness/consultest"
)

// An Agent is a real Consul dev agent (one server, state in memory) that
// DevAgent started for a test.
type Agent struct {
	// HTTPAddr is the host:port of its HTTP API, for CONSUL_HTTP_ADDR.
	HTTPAddr string
	a        *consultest.Agent
	t        testing.TB
}

// DevAgent starts a Consul dev agent on free loopback ports for the test,
// from $CONSUL_BIN or `consul` on PATH, and waits until it has a raft
// leader. It is stopped (and its data removed) when the test ends; if the
// test binary is interrupted, the agent dies with it. Without a binary the
// test is skipped with a message saying how to provide one.
func DevAgent(t testing.TB) *Agent {
	t.Helper()
	if _, err := consultest.FindBinary(); err != nil {
		t.Skipf("leadertest: %v", err)
	}
	a := consultest.DevServer(t, consultest.Options{})
	return &Agent{HTTPAddr: a.HTTPAddr, a: a, t: t}
}

// Client returns a client of the agent.
func (a *Agent) Client() *api.Client { return a.a.Client(a.t) }
