package consultest

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/consulelect/consulelect/internal/harness/netns"
)

// Agent is a Consul agent process started by [DevServer], [ClientAgent] or
// [Cluster]. The exported fields are read-only. Its methods may be called
// from any goroutine.
type Agent struct {
	// Name is the node name.
	Name string
	// Bind is the address the agent binds and advertises: a loopback
	// address, or its Host's address.
	Bind string
	// Datacenter is the agent's datacenter.
	Datacenter string
	// HTTPAddr is the host:port of the HTTP API.
	HTTPAddr string
	// DNSAddr is the host:port of the agent's DNS interface (UDP and TCP).
	DNSAddr string
	// SerfLANAddr is the host:port of the LAN gossip (TCP and UDP).
	SerfLANAddr string
	// SerfWANAddr is the host:port of the WAN gossip (servers only).
	SerfWANAddr string
	// ServerAddr is the host:port of the server RPC (and raft) listener, as
	// reported by /v1/status/leader; empty for client agents.
	ServerAddr string
	// DataDir is the agent's data directory. A dev server keeps its state in
	// memory; only its node-id is written here.
	DataDir string
	// ConfigFile is the agent's JSON configuration file.
	ConfigFile string
	// LogFile receives the agent's stdout and stderr, across restarts.
	LogFile string
	// Server reports whether the agent is a server.
	Server bool
	// Dev reports whether the agent runs with -dev (see DevServer).
	Dev bool
	// ACL reports whether ACLs are enabled (see Options.ACL).
	ACL bool
	// Host is the network namespace the agent runs in (Options.Host), or
	// nil.
	Host *netns.Host

	bin             string
	nodeName        string // Options.NodeName, "" for the default
	ports           ports
	retryJoin       []string
	bootstrapExpect int
	extra           map[string]any

	mu     sync.Mutex
	proc   *proc // current or last process, nil before the first start
	starts int
}

// DevServer starts a single `consul agent -dev` server (in-memory state,
// bootstraps itself) and waits until it is ready (see [Agent.WaitReady]).
func DevServer(t testing.TB, opts Options) *Agent {
	t.Helper()
	a := newAgent(t, opts, true, true)
	boot(t, []*Agent{a}, nil)
	return a
}

// ClientAgent starts a client (non-server) agent with its own data directory
// that joins join over serf LAN (retry_join join.SerfLANAddr), and waits
// until its node is registered in the catalog. opts.Bind is typically
// another loopback address such as "127.0.0.2". The datacenter defaults to
// join's, and ACLs are enabled if join has them.
func ClientAgent(t testing.TB, join *Agent, opts Options) *Agent {
	t.Helper()
	if join == nil {
		t.Fatalf("consultest: ClientAgent needs an agent to join")
	}
	if opts.Datacenter == "" {
		opts.Datacenter = join.Datacenter
	}
	opts.ACL = opts.ACL || join.ACL
	a := newAgent(t, opts, false, false)
	a.retryJoin = []string{join.SerfLANAddr}
	boot(t, []*Agent{a}, nil)
	return a
}

// newAgent prepares (but does not start) an agent in a new temporary
// directory and registers its cleanup.
func newAgent(t testing.TB, opts Options, server, dev bool) *Agent {
	t.Helper()
	opts = opts.withDefaults()
	if opts.Host != nil {
		opts.Bind = opts.Host.IP
	} else if ip := net.ParseIP(opts.Bind); ip == nil || !ip.IsLoopback() {
		t.Fatalf("consultest: Bind %q is not a loopback address", opts.Bind)
	}
	dir := t.TempDir()
	a := &Agent{
		Bind:       opts.Bind,
		Datacenter: opts.Datacenter,
		DataDir:    filepath.Join(dir, "data"),
		ConfigFile: filepath.Join(dir, "agent.json"),
		LogFile:    filepath.Join(dir, "agent.log"),
		Server:     server,
		Dev:        dev,
		ACL:        opts.ACL,
		Host:       opts.Host,
		bin:        Binary(t),
		nodeName:   opts.NodeName,
		extra:      opts.Extra,
	}
	if err := os.Mkdir(a.DataDir, 0o700); err != nil {
		t.Fatalf("consultest: %v", err)
	}
	a.assignPorts(t)
	t.Cleanup(func() { a.cleanup(t) })
	return a
}

// assignPorts gives a new free ports and the addresses and default name
// that derive from them.
func (a *Agent) assignPorts(t testing.TB) {
	t.Helper()
	ps, err := allocPorts(a.Bind, a.Host == nil)
	if err != nil {
		t.Fatalf("consultest: %v", err)
	}
	a.ports = ps
	a.HTTPAddr = net.JoinHostPort(a.Bind, strconv.Itoa(ps.HTTP))
	a.SerfLANAddr = net.JoinHostPort(a.Bind, strconv.Itoa(ps.SerfLAN))
	a.DNSAddr = net.JoinHostPort(a.Bind, strconv.Itoa(ps.DNS))
	if a.Server {
		a.ServerAddr = net.JoinHostPort(a.Bind, strconv.Itoa(ps.Server))
		a.SerfWANAddr = net.JoinHostPort(a.Bind, strconv.Itoa(ps.SerfWAN))
	}
	a.Name = a.nodeName
	if a.Name == "" {
		a.Name = fmt.Sprintf("node-%s-%d", strings.ReplaceAll(a.Bind, ".", "-"), ps.HTTP)
	}
}

// args returns the command line arguments of the agent.
func (a *Agent) args() []string {
	if a.Dev {
		return []string{"agent", "-dev", "-config-file", a.ConfigFile}
	}
	return []string{"agent", "-config-file", a.ConfigFile}
}

// cleanup logs the end of the agent's log if the test failed, then kills the
// agent if it is still running.
func (a *Agent) cleanup(t testing.TB) {
	if t.Failed() {
		t.Logf("consultest: last lines of the log of agent %s (%s):\n%s", a.Name, a.HTTPAddr, a.logTail(40))
	}
	if err := a.kill(); err != nil {
		t.Errorf("consultest: %v", err)
	}
}
