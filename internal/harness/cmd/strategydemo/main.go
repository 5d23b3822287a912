// Command strategydemo shows for a person how consulelect chooses the
// leader, with measured times: on a real Consul dev agent it starts
// candidates of priority 1, 2 and 3 in the worst order and narrates each
// priority handoff, a crash of the best one and its return; then it
// balances 60 keys over three replicas of a leader.Group, lets a fourth
// join and cuts one off, narrating how long each rebalance took and how
// many keys moved. Every elector runs in this process, each replica with
// its own Consul client behind its own fault proxy. At the end it stops
// everything it started and checks that no key ever had two leaders at
// once. `make demo-strategies` runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	var s settings
	flag.IntVar(&s.keys, "keys", 60, "keys of the balanced group (4 to 400)")
	flag.DurationVar(&s.window, "window", time.Second, "StabilityWindow and YieldInterval of every candidate")
	flag.Parse()
	if s.keys < 4 || s.keys > 400 || s.window <= 0 {
		fmt.Fprintln(os.Stderr, "strategydemo: -keys must be between 4 and 400 and -window positive")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout, s); err != nil {
		fmt.Fprintln(os.Stderr, "strategydemo:", err)
		os.Exit(1)
	}
}
