// Command example-shop is the no-oversell shop: several seller processes
// sell one item from a single stock counter in Consul KV, each sale under
// a lock (lock, read the stock, the buyer pays, write the sale, unlock),
// while the coordinator injects two faults in the middle of a sale: it
// SIGKILLs one seller while it holds the lock, and freezes another
// (SIGSTOP, then SIGCONT once the lock has moved on to another seller).
//
// Each write is guarded (see guardedWrite): one Consul transaction with
// check-session on the lock key, the fencing token and a CAS on the
// stock, so that a holder that lost its lock without knowing it can never
// apply a sale. The audit reads the ledger (one key per applied sale) and
// the stock from Consul: sold minus the initial stock is the oversell,
// which must be 0, and the stock must never go below 0.
//
// Then the same run with Consul's own api.Lock in place of the consulelect
// lock, and each of them without the guard (plain writes), side by side.
// Every figure printed is measured in the run.
//
//	go run ./example-shop            # or: make shop
//
// It starts a Consul dev agent ($CONSUL_BIN, else .cache/bin/consul, else
// consul on PATH), or uses the agent at CONSUL_HTTP_ADDR if set (it then
// resets the keys of the item under -prefix). The sellers are this program
// again, in -seller mode. The api.Lock runs take about 95s each: a
// stopped holder keeps its lock for its session TTL, then lock-delay.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/consulelect/consulelect/internal/harness/consultest"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-seller" {
		os.Exit(sellerMain(os.Args[2:]))
	}
	base := settings{impl: "ours", guard: true}
	var runs string
	var timeout time.Duration
	flag.IntVar(&base.stock, "stock", 100, "initial stock")
	flag.IntVar(&base.sellers, "sellers", 5, "seller processes (at least 2)")
	flag.DurationVar(&base.pay, "pay", 25*time.Millisecond, "time a buyer takes to pay, between the seller's read and its write")
	flag.IntVar(&base.killAfter, "kill-after", 20, "SIGKILL the next seller mid-sale after this many sales (-1: no kill)")
	flag.IntVar(&base.freezeAfter, "freeze-after", 45, "SIGSTOP the next seller mid-sale after this many sales (-1: no freeze)")
	flag.IntVar(&base.freezeSales, "freeze-sales", 3, "SIGCONT the frozen seller once the others sold this many")
	flag.DurationVar(&base.maxFreeze, "max-freeze", 2*time.Minute, "SIGCONT the frozen seller after this long at the latest")
	flag.StringVar(&base.freezeAt, "freeze-at", "write", `where the freeze strikes: "write" (right after the holder's last check of its lock, before its write) or "pay" (while the buyer pays, before that check)`)
	flag.StringVar(&base.prefix, "prefix", "shop", "KV prefix of the shop's keys (reset at the start of each run)")
	flag.StringVar(&base.item, "item", "widget", "the item sold")
	flag.StringVar(&runs, "runs", "ours/guard,ours/plain,apilock/guard,apilock/plain",
		`runs, in order: <lock>/<write>, lock "ours" or "apilock", write "guard" or "plain"`)
	flag.DurationVar(&timeout, "timeout", 20*time.Minute, "give up after this long")
	flag.Parse()
	list, err := parseRuns(base, runs)
	switch {
	case err != nil:
	case base.sellers < 2 || base.stock < 1:
		err = fmt.Errorf("-sellers must be at least 2 and -stock at least 1")
	case base.freezeAt != "write" && base.freezeAt != "pay":
		err = fmt.Errorf("-freeze-at must be write or pay")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "example-shop:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := run(ctx, os.Stdout, list); err != nil {
		fmt.Fprintln(os.Stderr, "example-shop:", err)
		os.Exit(1)
	}
}

// parseRuns turns the -runs list into the settings of each run.
func parseRuns(base settings, runs string) ([]settings, error) {
	var list []settings
	for _, r := range strings.Split(runs, ",") {
		impl, write, _ := strings.Cut(strings.TrimSpace(r), "/")
		s := base
		s.impl = impl
		switch write {
		case "guard":
			s.guard = true
		case "plain":
			s.guard = false
		default:
			return nil, fmt.Errorf("run %q: the write must be guard or plain", r)
		}
		if impl != "ours" && impl != "apilock" {
			return nil, fmt.Errorf("run %q: the lock must be ours or apilock", r)
		}
		list = append(list, s)
	}
	return list, nil
}

// run starts (or finds) the Consul agent, plays each run and prints the
// figures side by side.
func run(ctx context.Context, out io.Writer, runs []settings) error {
	fmt.Fprintf(out, "the no-oversell shop: seller processes selling one stock counter in Consul, under a lock, with a crash and a freeze\n\n")
	addr := os.Getenv("CONSUL_HTTP_ADDR")
	if addr == "" {
		tb, cleanup := consultest.Standalone()
		defer cleanup()
		var agent *consultest.Agent
		if err := consultest.Catch(func() { agent = consultest.DevServer(tb, consultest.Options{}) }); err != nil {
			return err
		}
		addr = agent.HTTPAddr
		fmt.Fprintf(out, "Consul dev agent ready on %s\n", addr)
	} else {
		fmt.Fprintf(out, "using the Consul agent at CONSUL_HTTP_ADDR=%s\n", addr)
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	var results []result
	for _, s := range runs {
		r, err := runShop(ctx, out, addr, exe, s)
		if err != nil {
			return err
		}
		results = append(results, r)
	}
	report(out, results)
	return nil
}
