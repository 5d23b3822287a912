// Command demo shows consulelect at work for a person: it starts a Consul
// agent on free loopback ports and three replicas of example-service,
// narrates who leads, stops the leader gracefully and crashes the next one,
// with measured handoff and failover times, then stops everything it
// started. `make demo` builds what it needs and runs it.
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
	flag.StringVar(&s.service, "service", "", "example-service binary (required)")
	flag.IntVar(&s.replicas, "replicas", 3, "replicas to start (at least 3)")
	flag.DurationVar(&s.observe, "observe", 2*time.Second, "how long to watch the leader work between faults")
	flag.StringVar(&s.timeline, "timeline", "", "also write the run's timeline, a self-contained HTML page, to this file")
	flag.Parse()
	if s.service == "" || s.replicas < 3 {
		fmt.Fprintln(os.Stderr, "demo: -service is required and -replicas must be at least 3")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout, s); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}
