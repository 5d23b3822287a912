package main

import (
	"fmt"
	"math/rand"
	"slices"
	"time"

	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/internal/harness/netns"
)

// Fault kinds of real partitions (-netns) and of operations events.
const (
	kindIsolateHost     = "isolate-host"
	kindCutToHost       = "cut-servers-to-host"
	kindCutFromHost     = "cut-host-to-servers"
	kindSplitRaftLeader = "split-raft-leader"
	kindSplitWithLeader = "split-host-with-raft-leader"
	kindRestartAgent    = "restart-agent"
	kindSlowLink        = "slow-link"
	partitionMin        = time.Second
	partitionMax        = 12 * time.Second
	agentDownMin        = 500 * time.Millisecond
	agentDownMax        = 3 * time.Second
	serverPartitionMin  = 2 * time.Second
	serverPartitionMax  = 10 * time.Second
)

// netKinds need -netns: each cuts packets between namespaces (dropped on
// arrival, silently) and heals them all at the end.
var netKinds = []kind{
	{name: kindIsolateHost,
		about: "cut the leader's host (its agent and candidate) from every server, both ways, for 1-12s",
		plan:  partitionFor(partitionMin, partitionMax),
		run: partition(func(f *faultRun) (string, func()) {
			return "host cut from every server", func() {
				f.h.net.Partition([]*netns.Host{f.host.agent.Host}, f.h.serverHosts(nil))
			}
		})},
	{name: kindCutToHost,
		about: "drop every packet from the servers to the leader's host (one way; the host's own packets reach them) for 1-12s",
		plan:  partitionFor(partitionMin, partitionMax),
		run: partition(func(f *faultRun) (string, func()) {
			return "servers to host dropped", func() {
				for _, s := range f.h.serverHosts(nil) {
					f.h.net.Block(s, f.host.agent.Host)
				}
			}
		})},
	{name: kindCutFromHost,
		about: "drop every packet from the leader's host to the servers (one way; theirs reach it) for 1-12s",
		plan:  partitionFor(partitionMin, partitionMax),
		run: partition(func(f *faultRun) (string, func()) {
			return "host to servers dropped", func() {
				for _, s := range f.h.serverHosts(nil) {
					f.h.net.Block(f.host.agent.Host, s)
				}
			}
		})},
	{name: kindSplitRaftLeader,
		about: "partition the servers 1 | 2 with the raft leader alone in the minority (every candidate host with the majority) for 2-10s",
		plan:  partitionFor(serverPartitionMin, serverPartitionMax),
		run: partition(func(f *faultRun) (string, func()) {
			rl := consultest.RaftLeader(f.h.tb, f.h.servers)
			return "raft leader " + rl.Name + " alone", func() {
				f.h.net.Partition([]*netns.Host{rl.Host}, f.h.othersThan(rl))
			}
		})},
	{name: kindSlowLink,
		about: "slow the leader's host's link both ways to 24 kbit/s with a token bucket (tbf: a queue that delays every packet, and drops past 1s of queue) for 2-10s; netem's delay and loss stand-in",
		plan:  partitionFor(serverPartitionMin, serverPartitionMax),
		run: partition(func(f *faultRun) (string, func()) {
			return "link throttled to 24kbit/s, 1s queue", func() { f.h.net.Throttle(f.host.agent.Host, "24kbit", time.Second) }
		})},
	{name: kindSplitWithLeader,
		about: "partition the servers 1 | 2 with the leader's host on the minority side, with the raft leader, for 2-10s",
		plan:  partitionFor(serverPartitionMin, serverPartitionMax),
		run: partition(func(f *faultRun) (string, func()) {
			rl := consultest.RaftLeader(f.h.tb, f.h.servers)
			return "host with raft leader " + rl.Name + " in the minority", func() {
				f.h.net.Partition([]*netns.Host{rl.Host, f.host.agent.Host}, f.h.othersThan(rl, f.host.agent))
			}
		})},
}

// restartKind restarts the leader's client agent in one of four ways
// (graceful or SIGKILL, keeping its data dir or with a fresh one), down for
// 0.5-3s; it needs no namespaces.
var restartKind = kind{name: kindRestartAgent,
	about: "restart the leader's client agent: SIGTERM (it leaves) or SIGKILL, with its data dir or a fresh one (it forgets every registration), down for 0.5-3s",
	plan:  partitionFor(agentDownMin, agentDownMax),
	run: func(f *faultRun, d time.Duration) error {
		graceful, fresh := f.h.rng.Intn(2) == 0, f.h.rng.Intn(2) == 0
		a := f.host.agent
		how := map[bool]string{true: "SIGTERM", false: "SIGKILL"}[graceful]
		state := map[bool]string{true: "fresh data dir", false: "kept data dir"}[fresh]
		return f.catch(func() {
			f.inject(fmt.Sprintf("agent %s %s, %s, down %s", a.Name, how, state, fmtDur(d)))
			if graceful {
				a.Stop(f.h.tb)
			} else {
				a.Kill(f.h.tb)
			}
			f.sleep(d)
			if fresh {
				a.RestartWithoutState(f.h.tb)
			} else {
				a.Restart(f.h.tb)
			}
			f.heal()
		})
	}}

// needsNet reports whether k runs only with -netns.
func (k kind) needsNet() bool {
	return slices.ContainsFunc(netKinds, func(n kind) bool { return n.name == k.name })
}

// netKindNames lists the kinds that need -netns.
func netKindNames() []string {
	var names []string
	for _, k := range netKinds {
		names = append(names, k.name)
	}
	return names
}

func partitionFor(lo, hi time.Duration) func(*rand.Rand, timings) time.Duration {
	return func(r *rand.Rand, _ timings) time.Duration { return between(r, lo, hi) }
}

// partition plans a cut (what it cuts, and the cut itself), makes it,
// holds it for d, then heals every cut.
func partition(plan func(f *faultRun) (detail string, cut func())) func(f *faultRun, d time.Duration) error {
	return func(f *faultRun, d time.Duration) error {
		defer func() { _ = f.catch(f.h.net.Heal) }()
		return f.catch(func() {
			detail, cut := plan(f)
			f.inject(fmt.Sprintf("%s for %s", detail, fmtDur(d)))
			cut()
			f.sleep(d)
			f.h.net.Heal()
			f.heal()
		})
	}
}

// serverHosts returns the hosts of the servers, except those given.
func (h *harness) serverHosts(except []*consultest.Agent) []*netns.Host {
	var hs []*netns.Host
	for _, s := range h.servers {
		if !slices.Contains(except, s) {
			hs = append(hs, s.Host)
		}
	}
	return hs
}

// othersThan returns the hosts of every server and candidate host but the
// given agents.
func (h *harness) othersThan(except ...*consultest.Agent) []*netns.Host {
	hs := h.serverHosts(except)
	for _, c := range h.hosts {
		if !slices.Contains(except, c.agent) {
			hs = append(hs, c.agent.Host)
		}
	}
	return hs
}
