package consultest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// nodeIDFile is the file of the data directory in which an agent keeps its
// node ID.
const nodeIDFile = "node-id"

// RestartWithoutState simulates an agent that crashes and comes back with a
// fresh data directory: it kills the agent with SIGKILL (see Kill), deletes
// everything in its data directory except the node-id file, and starts it
// again with the same ports and configuration, waiting until it is ready
// (see WaitReady). The agent forgets every service and check registered
// through its HTTP API, and its serf snapshot, so it rejoins through
// retry_join. It keeps its node ID and name: with a new ID under the old
// name the servers would refuse its registration while the old node's
// serfHealth is passing.
//
// What the servers see meanwhile: the node stays in the catalog with the
// services and checks the agent had synced, which no longer exist on the
// agent. They stay there until the agent's first anti-entropy sync after
// the restart deregisters them. The agent starts that sync when it learns
// of a server through serf (which it has when RestartWithoutState returns),
// after a random delay of up to 3s (Consul's serverUpIntv; longer in
// clusters of over 128 nodes), so the stale entries usually outlive the
// return, by up to 3s (TestRestartWithoutState asserts 5s); a service
// registered again before that sync is simply kept. Deregistering a check
// invalidates the sessions that named it. Whether the servers notice the
// crash itself (serfHealth critical, which invalidates every session of the
// node) depends on how the restart's duration, usually well under a second,
// compares with their gossip failure detection.
//
// It is for client agents and dev servers. A dev server keeps its state in
// memory and only its node-id in the data directory, so for one it is a
// crash and restart that loses all state, like Kill and Restart. A raft
// server of a Cluster is refused (the test fails): wiping its raft data is a
// different fault (a server replaced by an empty one) that this package
// does not model.
func (a *Agent) RestartWithoutState(t testing.TB) {
	t.Helper()
	if a.Server && !a.Dev {
		t.Fatalf("consultest: RestartWithoutState: %s is a raft server; wiping its raft data is not supported", a.Name)
	}
	a.Kill(t)
	if err := clearDataDir(a.DataDir); err != nil {
		t.Fatalf("consultest: RestartWithoutState %s: %v", a.Name, err)
	}
	if err := a.launch(); err != nil {
		t.Fatalf("consultest: RestartWithoutState: %v", err)
	}
	a.WaitReady(t)
}

// clearDataDir deletes everything in dir except the node-id file, keeping
// dir itself (it is the agent's working directory).
func clearDataDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() == nodeIDFile {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("clear data directory: %w", err)
		}
	}
	return nil
}
