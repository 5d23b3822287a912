// Command bench measures consulelect side by side with Consul's own
// api.Lock (defaults), in the same run on the same agents: graceful
// handoff, loss detection, crash failover, partition, idle cost, herd,
// scale, and the lock package's mutex (uncontended cycle, handoff,
// contended throughput; a crashed and a frozen holder) and semaphore
// (contended throughput, at most N holders; beside api.Semaphore), and the
// leader-choice strategies (a handoff to a named candidate beside a plain
// one, a balanced Group's rebalancing, their idle cost). It
// prints a markdown table and, with -report, writes it to a file.
// `make bench` runs it and writes docs/benchmarks.md.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// consultestTB is the harness's testing.TB, from consultest.Standalone.
type consultestTB = testing.TB

// settings of a run.
type settings struct {
	quick  bool
	rows   map[string]bool
	report string
	// lockWindow is how long the contended mutex and semaphore rows run.
	lockWindow time.Duration
}

func main() {
	var s settings
	var rows, childImpl, key, addr, profile string
	flag.BoolVar(&s.quick, "quick", false, "few trials, short windows (a smoke test, not numbers to quote)")
	flag.StringVar(&rows, "rows", "handoff,loss,crash,partition,idle,herd,scale,lock,sem,lockfaults,strategy", "rows to run")
	flag.DurationVar(&s.lockWindow, "lock-window", 30*time.Second, "how long the contended mutex and semaphore rows (lock, sem) run (-quick: 3s unless set)")
	flag.StringVar(&s.report, "report", "", "also write the markdown report to this file")
	flag.StringVar(&childImpl, "child", "", "internal: run as a crash-test holder (ours|apilock|mutex-ours), a mutex contender (lock-ours|lock-apilock) or a semaphore contender (sem-ours|sem-apisemaphore)")
	flag.StringVar(&key, "key", "", "internal: the child's key")
	flag.StringVar(&addr, "addr", "", "internal: the child's Consul address")
	flag.StringVar(&profile, "profile", "default", "internal: the child's timing profile")
	flag.Parse()
	if s.quick && !flagSet("lock-window") {
		s.lockWindow = 3 * time.Second
	}
	if childImpl != "" {
		run := func() error { return runChild(childImpl, key, addr, profile) }
		switch {
		case isLockChild(childImpl):
			run = func() error { return runLockChild(childImpl, key, addr) }
		case isSemChild(childImpl):
			run = func() error { return runSemChild(childImpl, key, addr) }
		case isMutexHolderChild(childImpl):
			run = func() error { return runMutexHolderChild(key, addr) }
		}
		if err := run(); err != nil {
			fmt.Fprintln(os.Stderr, "bench child:", err)
			os.Exit(1)
		}
		return
	}
	s.rows = map[string]bool{}
	for _, r := range strings.Split(rows, ",") {
		s.rows[strings.TrimSpace(r)] = true
	}
	start := time.Now()
	md, err := run(s)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	fmt.Print(md)
	fmt.Fprintf(os.Stderr, "bench: done in %v\n", time.Since(start).Round(time.Second))
	if s.report != "" {
		if err := os.WriteFile(s.report, []byte(md), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
}

// flagSet tells whether the flag name was given on the command line.
func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
