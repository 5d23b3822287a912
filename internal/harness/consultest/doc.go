// Package consultest starts real HashiCorp Consul agents as child processes
// for the tests of this module.
//
// Every agent gets its own temporary directory (JSON config file, data
// directory, log file), its own free loopback ports and, optionally, its own
// 127.0.0.x address. The process is fully visible to the test: it can be
// paused (SIGSTOP), resumed (SIGCONT), killed (SIGKILL), stopped gracefully,
// restarted with the same ports, data directory and configuration, and
// restarted after a crash that lost its data directory
// ([Agent.RestartWithoutState]), which is what fault-injection tests of a
// leader-election library need.
//
// Why not github.com/hashicorp/consul/sdk/testutil: it only runs `consul`
// from PATH, hides the process behind its own API (no SIGSTOP, SIGKILL or
// restart for fault injection) and cannot bind agents to loopback addresses
// other than 127.0.0.1.
//
// The binary comes from [Binary]: $CONSUL_BIN, else .cache/bin/consul in the
// module root (built by `make consul`), else `consul` on PATH.
//
// Entry points: [DevServer] (a single `consul agent -dev` server),
// [ClientAgent] (a client agent joined to a server), [Cluster] (n real
// servers with raft) and [RaftLeader]. [NewProxy] puts a TCP fault proxy
// (freeze, drop connections) between a client and an agent;
// [NewFaultProxy] an HTTP one that fails, hangs or holds chosen requests
// (the third lock acquisition, every session renewal) and counts them.
//
// Agents are started with Pdeathsig=SIGKILL and in their own process group,
// and every agent still running when its test ends is killed in t.Cleanup, so
// no agent outlives the test binary. When a test fails, the last lines of
// each agent's log are written to the test log.
//
// Goroutine leaks: api.Client pools HTTP keep-alive connections, and each
// idle connection keeps two net/http goroutines alive. Packages whose tests
// use go.uber.org/goleak should ignore those:
//
//	func TestMain(m *testing.M) {
//		goleak.VerifyTestMain(m, consultest.LeakOptions()...)
//	}
//
// or close idle connections explicitly (Config().Transport.CloseIdleConnections,
// which [Agent.Client] registers in t.Cleanup).
//
// Do not set CONSUL_HTTP_* variables in the environment of the tests:
// api.NewClient reads some of them (token, TLS files) as defaults.
package consultest
