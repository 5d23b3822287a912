package netns

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The test binary doubles as the helper process that runs in a namespace:
// with NETNS_HELPER=listen it echoes lines on $NETNS_ADDR; with
// NETNS_HELPER=dial it dials $NETNS_ADDR, sends one line and prints what
// came back (or the error), within 1s; with NETNS_HELPER=chat it copies
// stdin to a connection to $NETNS_ADDR and the connection to stdout.
func TestMain(m *testing.M) {
	switch os.Getenv("NETNS_HELPER") {
	case "listen":
		ln, err := net.Listen("tcp", os.Getenv("NETNS_ADDR"))
		if err != nil {
			fmt.Println("listen:", err)
			os.Exit(1)
		}
		fmt.Println("listening")
		for {
			c, err := ln.Accept()
			if err != nil {
				os.Exit(1)
			}
			go func() { _, _ = io.Copy(c, c) }()
		}
	case "chat":
		c, err := net.DialTimeout("tcp", os.Getenv("NETNS_ADDR"), time.Second)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		go func() { _, _ = io.Copy(os.Stdout, c) }()
		_, _ = io.Copy(c, os.Stdin)
		os.Exit(0)
	case "big":
		c, err := net.DialTimeout("tcp", os.Getenv("NETNS_ADDR"), time.Second)
		if err != nil {
			fmt.Println(0)
			os.Exit(0)
		}
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		go func() { _, _ = c.Write(bytes.Repeat([]byte("x"), 4000)) }()
		got, _ := io.ReadFull(c, make([]byte, 4000))
		fmt.Println(got)
		os.Exit(0)
	case "dial":
		c, err := net.DialTimeout("tcp", os.Getenv("NETNS_ADDR"), time.Second)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(0)
		}
		_ = c.SetDeadline(time.Now().Add(time.Second))
		fmt.Fprintln(c, "ping")
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(0)
		}
		fmt.Print(line)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func requireNetns(t *testing.T) {
	t.Helper()
	if err := Available(); err != nil {
		t.Skipf("SKIP: network namespace tests need root and iproute2 here: %v", err)
	}
}

// helper returns the test binary run as helper mode in h's namespace
// (see TestMain), against addr.
func helper(h *Host, mode, addr string) *exec.Cmd {
	cmd := h.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "NETNS_HELPER="+mode, "NETNS_ADDR="+addr)
	return cmd
}

// listen starts an echo helper on h and returns its address.
func listen(t *testing.T, h *Host) string {
	t.Helper()
	addr := h.IP + ":7000"
	cmd := helper(h, "listen", addr)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "listening" {
		t.Fatalf("echo helper on %s: %q", h.Name, line)
	}
	return addr
}

// dial runs a dial helper on h against addr and returns what it printed.
func dial(t *testing.T, h *Host, addr string) string {
	t.Helper()
	cmd := helper(h, "dial", addr)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dial helper on %s: %v", h.Name, err)
	}
	return strings.TrimSpace(string(out))
}

func TestBlockAndHeal(t *testing.T) {
	requireNetns(t)
	n := New(t)
	a, b, c := n.Host("a"), n.Host("b"), n.Host("c")
	addrA := listen(t, a)

	// The test process reaches a host from its own port.
	conn, err := net.DialTimeout("tcp", addrA, time.Second)
	if err != nil {
		t.Fatalf("root to a: %v", err)
	}
	conn.Close()
	if got := dial(t, b, addrA); got != "ping" {
		t.Fatalf("b to a before any block: %q", got)
	}

	// One way: a drops what b sends, so b's SYN never arrives.
	n.Block(b, a)
	if got := dial(t, b, addrA); !strings.Contains(got, "timeout") {
		t.Fatalf("b to a with b->a blocked: %q, want a timeout", got)
	}
	if got := dial(t, c, addrA); got != "ping" {
		t.Fatalf("c to a with only b->a blocked: %q", got)
	}
	n.Unblock(b, a)
	if got := dial(t, b, addrA); got != "ping" {
		t.Fatalf("b to a after Unblock: %q", got)
	}

	// The other way: a's answers to b are dropped at b.
	n.Block(a, b)
	if got := dial(t, b, addrA); !strings.Contains(got, "timeout") {
		t.Fatalf("b to a with a->b blocked: %q, want a timeout", got)
	}
	n.Partition([]*Host{a}, []*Host{b, c})
	if n.Blocked() != 4 {
		t.Fatalf("Blocked = %d after a partition of 1 and 2 (plus a->b again), want 4", n.Blocked())
	}
	n.Heal()
	if n.Blocked() != 0 || dial(t, b, addrA) != "ping" || dial(t, c, addrA) != "ping" {
		t.Fatalf("not healed: %d blocks", n.Blocked())
	}
}

// An open connection survives a cut: its packets are dropped, not reset,
// and it carries on after the heal.
func TestConnectionSurvivesACut(t *testing.T) {
	requireNetns(t)
	n := New(t)
	a, b := n.Host("a"), n.Host("b")
	addrA := listen(t, a)
	cmd := helper(b, "chat", addrA)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { in.Close(); _ = cmd.Wait() }()
	lines := make(chan string, 10)
	go func() {
		defer close(lines)
		r := bufio.NewScanner(out)
		for r.Scan() {
			lines <- r.Text()
		}
	}()
	say := func(s string) { fmt.Fprintln(in, s) }
	expect := func(want string, within time.Duration) {
		t.Helper()
		select {
		case got := <-lines:
			if got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		case <-time.After(within):
			t.Fatalf("no %q within %v", want, within)
		}
	}
	say("one")
	expect("one", 2*time.Second)
	n.Block(b, a)
	say("two")
	select {
	case got := <-lines:
		t.Fatalf("echo %q came back through the cut", got)
	case <-time.After(500 * time.Millisecond):
	}
	n.Heal()
	expect("two", 10*time.Second) // TCP's retransmission, once healed
}

// A throttled link delays what crosses it (the token bucket's queue), both
// ways, and the heal removes the throttle.
func TestThrottle(t *testing.T) {
	requireNetns(t)
	if err := CanThrottle(); err != nil {
		t.Skipf("SKIP: %v", err)
	}
	n := New(t)
	a, b := n.Host("a"), n.Host("b")
	addrA := listen(t, a)
	n.Throttle(b, "16kbit", 5*time.Second)
	start := time.Now()
	if got := dialBig(t, b, addrA); got != 4000 {
		t.Fatalf("echoed %d bytes, want 4000", got)
	}
	slow := time.Since(start)
	n.Heal()
	start = time.Now()
	if got := dialBig(t, b, addrA); got != 4000 {
		t.Fatalf("echoed %d bytes after the heal, want 4000", got)
	}
	fast := time.Since(start)
	t.Logf("4000 bytes echoed in %v through a 16kbit/s link, %v after the heal", slow.Round(time.Millisecond), fast.Round(time.Millisecond))
	// 4000 bytes each way at 16kbit/s: about 2s each way, minus a burst.
	if slow < time.Second || fast > slow/4 {
		t.Errorf("throttled echo took %v, healed %v", slow, fast)
	}
}

// dialBig runs a helper on h that echoes 4000 bytes through addr and
// returns how many came back.
func dialBig(t *testing.T, h *Host, addr string) int {
	t.Helper()
	cmd := helper(h, "big", addr)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("big helper on %s: %v", h.Name, err)
	}
	var n int
	fmt.Sscan(strings.TrimSpace(string(out)), &n)
	return n
}

func TestStaleNamesAreOnlyDeadProcesses(t *testing.T) {
	if staleName(fmt.Sprintf("%s%d-x", prefix, os.Getpid())) {
		t.Fatal("own namespace counted as stale")
	}
	if staleName("other-namespace") || staleName("ce") {
		t.Fatal("a foreign name counted as stale")
	}
	// A pid above the kernel's maximum is never running.
	if !staleName(prefix + "4194305-x") {
		t.Fatal("the namespace of a pid that cannot run is not stale")
	}
}
