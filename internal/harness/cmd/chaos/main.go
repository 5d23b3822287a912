// Command chaos is the fault-injection harness of consulelect (`make
// chaos`): it runs real candidate processes (internal/harness/cmd/candidate) on a
// real 3-server Consul cluster, each through its own client agent and a
// fault proxy, injects faults one at a time on the leader (SIGKILL,
// SIGSTOP, a hung agent, a Consul raft leader crash, a destroyed session, a
// deleted or overwritten key, a frozen or dropped path), and then checks the
// candidates' ledgers against its own: no two leaders at once, fencing
// tokens that increase, terms that end within DemoteAfter of losing the key,
// fenced writes of a stale leader rejected. Beside the elector, each
// candidate takes a mutex and a slot of a semaphore (limit: one less than
// the candidates) again and again on one lock.Session, under the same
// faults, and the checker applies the same rules to their holds: never two
// mutex holders, never more semaphore holders than the limit, outside the
// stale windows of a paused process. It prints a markdown report
// (docs/reliability.md explains it) and exits non-zero on any violation.
//
// Exit status: 0 pass, 1 safety or liveness violation, 2 harness error,
// 130 interrupted.
package main

import (
	"flag"
	"fmt"
	"math/rand"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/internal/harness/netns"
	"github.com/consulelect/consulelect/leader"
)

// config is the harness's flags.
type config struct {
	faults         int
	seed           int64
	candidates     int
	report         string
	timeline       string
	check          string // only check the ledgers a kept run left in this directory
	dir            string
	recoverTimeout time.Duration
	maxDuration    time.Duration
	kinds          []kind
	timings        timings
	locks          bool // the candidates also take a mutex and a semaphore
	netns          bool // every server and host in its own network namespace
	netnsWhy       string
}

func main() {
	cfg, err := parseFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(2)
	}
	if cfg.check != "" {
		// The run's own settings (namespaces, machine, Go) come from its
		// ledger where it recorded them; Consul's version is this binary's.
		tb, cleanup := consultest.Standalone()
		meta := runMeta{machine: machine(), goVersion: runtime.Version(), consulVersion: consulVersion(tb)}
		cleanup()
		os.Exit(checkLedgers(cfg.check, meta, cfg.report, cfg.timeline))
	}
	os.Exit(run(cfg))
}

func parseFlags() (config, error) {
	var c config
	var kindList, netnsMode string
	flag.IntVar(&c.faults, "faults", 50, "number of faults to inject")
	flag.Int64Var(&c.seed, "seed", 0, "seed of the fault schedule (0: from the clock; printed)")
	flag.IntVar(&c.candidates, "candidates", 3, "candidate processes (at least 3), one client agent each")
	flag.StringVar(&c.report, "report", "", "also write the report to this file (between its chaos-report markers if it has them)")
	flag.StringVar(&c.timeline, "timeline", "", "also write the run's timeline, a self-contained HTML page, to this file")
	flag.StringVar(&c.check, "check", "", "run nothing: check the ledgers that a run kept in this directory (-dir) and print its report again (with -report and -timeline)")
	flag.StringVar(&c.dir, "dir", "", "keep the ledgers and logs in this directory (default: a temporary one, removed after a passing run)")
	flag.DurationVar(&c.recoverTimeout, "recover-timeout", 30*time.Second, "wait for a leader after a fault; longer counts as an availability gap")
	flag.DurationVar(&c.maxDuration, "max-duration", 0, "stop injecting after this long (0: no limit)")
	flag.StringVar(&kindList, "kinds", "", "comma-separated fault kinds to inject (default: all)")
	flag.BoolVar(&c.locks, "locks", true, "the candidates also take and release a mutex and a slot of a semaphore (limit: candidates - 1), and the checker checks their holders")
	flag.StringVar(&netnsMode, "netns", "auto", "run every server and candidate host in its own network namespace and inject real partitions: on, off, or auto (on where this machine allows it: root and iproute2)")
	flag.DurationVar(&c.timings.lockDelay, "lock-delay", leader.DefaultLockDelay, "the candidates' LockDelay")
	flag.DurationVar(&c.timings.demoteAfter, "demote-after", leader.DefaultDemoteAfter, "the candidates' DemoteAfter")
	flag.DurationVar(&c.timings.confirmInterval, "confirm-interval", leader.DefaultConfirmInterval, "the candidates' ConfirmInterval")
	flag.DurationVar(&c.timings.checkTTL, "check-ttl", leader.DefaultCheckTTL, "the candidates' CheckTTL")
	flag.Usage = usage
	flag.Parse()
	if c.seed == 0 {
		c.seed = time.Now().UnixNano()
	}
	if c.candidates < 3 {
		return c, fmt.Errorf("-candidates %d: need at least 3", c.candidates)
	}
	if c.faults < 1 {
		return c, fmt.Errorf("-faults %d: need at least 1", c.faults)
	}
	switch netnsMode {
	case "on", "auto":
		err := netns.Available()
		c.netns = err == nil
		if err != nil {
			if netnsMode == "on" {
				return c, fmt.Errorf("-netns on: %v", err)
			}
			c.netnsWhy = err.Error()
		}
	case "off":
		c.netnsWhy = "-netns off"
	default:
		return c, fmt.Errorf("-netns %q: want on, off or auto", netnsMode)
	}
	throttle := netns.CanThrottle()
	for _, k := range allKinds() {
		switch {
		case k.needsNet() && !c.netns:
		case k.name == kindSlowLink && throttle != nil:
			fmt.Fprintf(os.Stderr, "chaos: SKIPPING %s: %v\n", kindSlowLink, throttle)
		default:
			c.kinds = append(c.kinds, k)
		}
	}
	if kindList != "" {
		c.kinds = nil
		for _, name := range strings.Split(kindList, ",") {
			k, ok := kindByName(strings.TrimSpace(name))
			if !ok {
				return c, fmt.Errorf("unknown fault kind %q", name)
			}
			if k.needsNet() && !c.netns {
				return c, fmt.Errorf("fault kind %s needs network namespaces (-netns): %s", k.name, c.netnsWhy)
			}
			if k.name == kindSlowLink && throttle != nil {
				return c, fmt.Errorf("fault kind %s: %v", k.name, throttle)
			}
			c.kinds = append(c.kinds, k)
		}
	}
	return c, validTimings(c.timings)
}

func usage() {
	out := flag.CommandLine.Output()
	fmt.Fprintf(out, "usage: chaos [flags]   (make chaos; docs/reliability.md)\n\nflags:\n")
	flag.PrintDefaults()
	fmt.Fprintf(out, "\nfault kinds (-kinds):\n")
	for _, k := range allKinds() {
		need := ""
		if k.needsNet() {
			need = " (-netns)"
		}
		fmt.Fprintf(out, "  %-27s %s%s\n", k.name, k.about, need)
	}
}

// validTimings lets leader.New judge the timings (the safety inequality):
// every candidate would refuse them anyway, later and less visibly.
func validTimings(t timings) error {
	client, err := api.NewClient(api.DefaultConfig())
	if err != nil {
		return err
	}
	_, err = leader.New(client, leader.Config{Key: electionKey, LockDelay: t.lockDelay,
		DemoteAfter: t.demoteAfter, ConfirmInterval: t.confirmInterval, CheckTTL: t.checkTTL})
	return err
}

// newRand returns the schedule's random source.
func newRand(seed int64) *rand.Rand { return rand.New(rand.NewSource(seed)) }
