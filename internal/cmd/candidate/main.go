// Command candidate is a minimal process that campaigns with the leader
// package, for tests that must kill or freeze a leader process. It prints
// one line per transition on stdout:
//
//	elected <token> <session>
//	demoted <token> <reason>
//
// The Consul address and token come from the usual CONSUL_HTTP_* variables.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/hashicorp/consul/api"
	"github.com/hashicorp/go-hclog"

	"github.com/consulelect/consulelect/leader"
)

func main() {
	var cfg leader.Config
	flag.StringVar(&cfg.Key, "key", "", "key to campaign for")
	flag.StringVar(&cfg.Identity, "id", "", "identity")
	flag.DurationVar(&cfg.LockDelay, "lock-delay", 0, "LockDelay")
	flag.DurationVar(&cfg.DemoteAfter, "demote-after", 0, "DemoteAfter")
	flag.DurationVar(&cfg.ConfirmInterval, "confirm-interval", 0, "ConfirmInterval")
	flag.DurationVar(&cfg.CheckTTL, "check-ttl", 0, "CheckTTL")
	flag.Parse()
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "candidate:", err)
		os.Exit(1)
	}
}

func run(cfg leader.Config) error {
	client, err := api.NewClient(api.DefaultConfig())
	if err != nil {
		return err
	}
	log := hclog.New(&hclog.LoggerOptions{Name: cfg.Identity, Output: os.Stderr, Level: hclog.Debug})
	e, err := leader.New(client, cfg, leader.WithLogger(log), leader.WithLeaderFunc(
		func(ctx context.Context, term *leader.Term) error {
			fmt.Printf("elected %d %s\n", term.Token, term.SessionID)
			<-ctx.Done()
			fmt.Printf("demoted %d %v\n", term.Token, term.Reason())
			return nil
		}))
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return e.Run(ctx)
}
