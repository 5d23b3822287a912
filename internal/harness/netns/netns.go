// Package netns builds a test network of Linux network namespaces: one
// namespace per host (a Consul server, or a client agent with its
// candidate), each with one address on a bridge in a namespace of its own,
// plus a port of the test process itself on that bridge. Faults are cut
// into it with routing rules, so that a host stops hearing another one
// silently (packets dropped on arrival, no reset, no ICMP), one way or
// both, and heal again, while connections stay open.
//
// It needs root, iproute2's ip and a kernel with network namespaces, veth
// and bridges; [Available] says whether this machine has them. Every
// namespace and link is named after the creating process, removed when the
// test ends, and removed by the next [New] if that process died without
// cleaning up.
package netns

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// prefix starts the name of every namespace and root link this package
// makes: "ce<pid>-<host>" for namespaces, "ce<pid>" for the test process's
// own port.
const prefix = "ce"

// Net is one test network. Its methods may be called from any goroutine
// of the test that made it (a failure calls that test's Fatalf).
type Net struct {
	tb     testing.TB
	id     string // prefix + pid
	subnet string // "10.77.S."
	bridge string // the bridge namespace

	mu        sync.Mutex
	hosts     []*Host
	blocked   map[[2]*Host]bool // from, to
	throttled map[*Host]bool
}

// Host is one namespace of a Net with one address.
type Host struct {
	// Name is the name given to [Net.Host].
	Name string
	// NS is the namespace's name (for `ip netns exec`).
	NS string
	// IP is the host's address on the network.
	IP   string
	net  *Net
	port string // its port on the bridge
}

// Available returns nil if this process can build a Net, or the reason it
// cannot (not root, no ip command, no namespaces, no bridge).
func Available() error {
	availableOnce.Do(func() { availableErr = probe() })
	return availableErr
}

var (
	availableOnce sync.Once
	availableErr  error
)

func probe() error {
	if os.Geteuid() != 0 {
		return errors.New("network namespaces need root (euid is not 0)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return errors.New("network namespaces need iproute2's ip command, which is not on PATH")
	}
	ns := fmt.Sprintf("%s%d-probe", prefix, os.Getpid())
	if err := ip("netns", "add", ns); err != nil {
		return fmt.Errorf("cannot create a network namespace: %w", err)
	}
	defer func() { _ = ip("netns", "del", ns) }()
	if err := ip("-n", ns, "link", "add", "br0", "type", "bridge"); err != nil {
		return fmt.Errorf("cannot create a bridge in a network namespace: %w", err)
	}
	if err := ip("-n", ns, "link", "add", "name", "va", "type", "veth", "peer", "name", "vb"); err != nil {
		return fmt.Errorf("cannot create a veth pair: %w", err)
	}
	return nil
}

// New builds an empty network (the bridge and the test process's port on
// it) and removes it when tb's test ends. Check [Available] first; New
// fails tb if the network cannot be built. Namespaces left behind by a
// process that has died are removed first.
func New(tb testing.TB) *Net {
	tb.Helper()
	if err := Available(); err != nil {
		tb.Fatalf("netns: %v", err)
	}
	cleanStale()
	unlock, err := lockFile()
	if err != nil {
		tb.Fatalf("netns: %v", err)
	}
	defer unlock()
	seq := nextSeq()
	n := &Net{tb: tb, id: fmt.Sprintf("%s%d", prefix, os.Getpid()), blocked: map[[2]*Host]bool{}, throttled: map[*Host]bool{}}
	if seq > 0 {
		n.id = fmt.Sprintf("%s%dn%d", prefix, os.Getpid(), seq)
	}
	s, err := freeSubnet()
	if err != nil {
		tb.Fatalf("netns: %v", err)
	}
	n.subnet = fmt.Sprintf("10.77.%d.", s)
	n.bridge = n.id + "-br"
	tb.Cleanup(n.destroy)
	steps := [][]string{
		{"netns", "add", n.bridge},
		{"-n", n.bridge, "link", "set", "lo", "up"},
		{"-n", n.bridge, "link", "add", "br0", "type", "bridge"},
		{"-n", n.bridge, "link", "set", "br0", "up"},
		{"link", "add", "name", n.id, "type", "veth", "peer", "name", "root", "netns", n.bridge},
		{"-n", n.bridge, "link", "set", "root", "master", "br0"},
		{"-n", n.bridge, "link", "set", "root", "up"},
		{"addr", "add", n.RootIP() + "/24", "dev", n.id},
		{"link", "set", n.id, "up"},
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			tb.Fatalf("netns: %v", err)
		}
	}
	return n
}

// RootIP is the test process's own address on the network: servers and
// agents in the namespaces can reach a listener of the test on it, and the
// test reaches them from here. No fault cuts it.
func (n *Net) RootIP() string { return n.subnet + "1" }

// Host adds a host namespace with the next free address and returns it.
func (n *Net) Host(name string) *Host {
	n.tb.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	i := len(n.hosts) + 2
	if i > 254 {
		n.tb.Fatalf("netns: too many hosts")
	}
	port := fmt.Sprintf("p%d", i)
	if name == "probe" || name == "tbf" {
		n.tb.Fatalf("netns: host name %q is reserved", name)
	}
	h := &Host{Name: name, NS: fmt.Sprintf("%s-%s", n.id, name), IP: fmt.Sprintf("%s%d", n.subnet, i), net: n, port: port}
	n.hosts = append(n.hosts, h) // removed by destroy even if a step below fails
	steps := [][]string{
		{"netns", "add", h.NS},
		{"-n", h.NS, "link", "set", "lo", "up"},
		{"-n", h.NS, "link", "add", "name", "eth0", "type", "veth", "peer", "name", port, "netns", n.bridge},
		{"-n", n.bridge, "link", "set", port, "master", "br0"},
		{"-n", n.bridge, "link", "set", port, "up"},
		{"-n", h.NS, "addr", "add", h.IP + "/24", "dev", "eth0"},
		{"-n", h.NS, "link", "set", "eth0", "up"},
		// The local table is looked up at priority 0, before any rule
		// one can add: move it behind the drop rules (priority 10).
		{"-n", h.NS, "rule", "add", "pref", "100", "lookup", "local"},
		{"-n", h.NS, "rule", "del", "pref", "0"},
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			n.tb.Fatalf("netns: host %s: %v", name, err)
		}
	}
	return h
}

// Command returns a command that runs name in h's namespace (through `ip
// netns exec`, which execs it: the process's pid is the command's own).
func (h *Host) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", h.NS, name}, args...)...)
}

// destroy removes every namespace of n (and so every link). Processes
// still running in a namespace keep it alive until they exit, unreachable.
func (n *Net) destroy() {
	n.mu.Lock()
	hosts := n.hosts
	n.hosts = nil
	n.mu.Unlock()
	for _, h := range hosts {
		if err := ip("netns", "del", h.NS); err != nil {
			n.tb.Errorf("netns: %v", err)
		}
	}
	if err := ip("netns", "del", n.bridge); err != nil {
		n.tb.Errorf("netns: %v", err)
	}
	_ = ip("link", "del", n.id) // gone with its peer already, normally
}

// ip runs the ip command with args.
func ip(args ...string) error {
	cmd := exec.Command("ip", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

// lockFile serializes network creation between processes (the free subnet
// is chosen by looking at the root namespace's addresses).
func lockFile() (unlock func(), err error) {
	f, err := os.OpenFile(os.TempDir()+"/consulelect-netns.lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

var (
	seqMu sync.Mutex
	seq   int
)

// nextSeq numbers the nets of this process.
func nextSeq() int {
	seqMu.Lock()
	defer seqMu.Unlock()
	s := seq
	seq++
	return s
}
