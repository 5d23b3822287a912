package netns

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

// Heal removes every block.
func (n *Net) Heal() {
	n.tb.Helper()
	n.mu.Lock()
	var pairs [][2]*Host
	for p := range n.blocked {
		pairs = append(pairs, p)
	}
	n.mu.Unlock()
	for _, p := range pairs {
		n.Unblock(p[0], p[1])
	}
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
