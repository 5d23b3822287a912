package netns

import (
	"fmt"
	"os"
	"sync"
	"time"
)

// Block makes to drop every packet that comes from from, silently, on
// arrival: from's connections to to hang and its datagrams vanish, while
// to's packets to from still arrive (a one-way cut; block both ways for a
// partition). Connections stay open and carry on after [Net.Unblock].
func (n *Net) Block(from, to *Host) {
	n.tb.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.blocked[[2]*Host{from, to}] {
		return
	}
	if err := ip(n.dropRule("add", from, to)...); err != nil {
		n.tb.Fatalf("netns: %v", err)
	}
	n.blocked[[2]*Host{from, to}] = true
}

// Unblock undoes Block(from, to).
func (n *Net) Unblock(from, to *Host) {
	n.tb.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.blocked[[2]*Host{from, to}] {
		return
	}
	if err := ip(n.dropRule("del", from, to)...); err != nil {
		n.tb.Fatalf("netns: %v", err)
	}
	delete(n.blocked, [2]*Host{from, to})
}

// Partition blocks every packet between a host of side a and a host of
// side b, both ways.
func (n *Net) Partition(a, b []*Host) {
	n.tb.Helper()
	for _, x := range a {
		for _, y := range b {
			n.Block(x, y)
			n.Block(y, x)
		}
	}
}

// Heal removes every block and every throttle.
func (n *Net) Heal() {
	n.tb.Helper()
	n.mu.Lock()
	var pairs [][2]*Host
	for p := range n.blocked {
		pairs = append(pairs, p)
	}
	var slow []*Host
	for h := range n.throttled {
		slow = append(slow, h)
	}
	n.mu.Unlock()
	for _, p := range pairs {
		n.Unblock(p[0], p[1])
	}
	for _, h := range slow {
		n.Unthrottle(h)
	}
}

// Throttle slows h's link both ways to rate (tc's units, "32kbit") with a
// token bucket (tbf): packets queue, which delays them, and a packet that
// would wait more than queue is dropped. It stands in for netem's delay
// and loss, which not every kernel has; the delay grows with the traffic.
func (n *Net) Throttle(h *Host, rate string, queue time.Duration) {
	n.tb.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.throttled[h] {
		return
	}
	latency := fmt.Sprintf("%dms", queue.Milliseconds())
	for _, dev := range [][2]string{{h.NS, "eth0"}, {n.bridge, h.port}} {
		if err := ip("netns", "exec", dev[0], "tc", "qdisc", "add", "dev", dev[1], "root", "tbf",
			"rate", rate, "burst", "1600", "latency", latency); err != nil {
			n.tb.Fatalf("netns: %v", err)
		}
	}
	n.throttled[h] = true
}

// Unthrottle undoes Throttle(h).
func (n *Net) Unthrottle(h *Host) {
	n.tb.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.throttled[h] {
		return
	}
	for _, dev := range [][2]string{{h.NS, "eth0"}, {n.bridge, h.port}} {
		if err := ip("netns", "exec", dev[0], "tc", "qdisc", "del", "dev", dev[1], "root"); err != nil {
			n.tb.Fatalf("netns: %v", err)
		}
	}
	delete(n.throttled, h)
}

// Blocked returns the number of one-way blocks in place.
func (n *Net) Blocked() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.blocked)
}

// dropRule is the ip rule that makes to drop packets from from.
func (n *Net) dropRule(op string, from, to *Host) []string {
	if from.net != n || to.net != n {
		n.tb.Fatalf("netns: hosts %s and %s are not both on this net", from.Name, to.Name)
	}
	return []string{"-n", to.NS, "rule", op, "pref", "10", "from", from.IP, "iif", "eth0", "blackhole"}
}

// CanThrottle returns nil if Throttle works here (tc, and a kernel with
// the tbf queueing discipline), or the reason it does not.
func CanThrottle() error {
	throttleOnce.Do(func() {
		if err := Available(); err != nil {
			throttleErr = err
			return
		}
		ns := fmt.Sprintf("%s%d-tbf", prefix, os.Getpid())
		if err := ip("netns", "add", ns); err != nil {
			throttleErr = err
			return
		}
		defer func() { _ = ip("netns", "del", ns) }()
		if err := ip("netns", "exec", ns, "tc", "qdisc", "add", "dev", "lo", "root", "tbf",
			"rate", "32kbit", "burst", "1600", "latency", "1s"); err != nil {
			throttleErr = fmt.Errorf("slowing a link needs tc and the kernel's tbf: %w", err)
		}
	})
	return throttleErr
}

var (
	throttleOnce sync.Once
	throttleErr  error
)
