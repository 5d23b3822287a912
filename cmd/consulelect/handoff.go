package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/consulelect/consulelect/leader"
)

func cmdResign(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("resign", flag.ContinueOnError)
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for the leader to hand over")
	key, err := parse(fs, args, stderr, "resign [-timeout D] KEY")
	if err != nil {
		return err
	}
	return handOff(ctx, key, "", *timeout, stdout)
}

func cmdHandOff(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("handoff", flag.ContinueOnError)
	to := fs.String("to", "", "the candidate to hand over to: its identity or service ID (required)")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for the leader to hand over")
	key, err := parse(fs, args, stderr, "handoff -to ID [-timeout D] KEY")
	if err != nil {
		return err
	}
	if *to == "" {
		return usageError{"-to is required (resign hands over to anyone)"}
	}
	return handOff(ctx, key, *to, *timeout, stdout)
}

// handOff asks the leader through leader.RequestHandOff and reports the
// new holder.
func handOff(ctx context.Context, key, to string, timeout time.Duration, stdout io.Writer) error {
	client, err := newClient()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	h, err := leader.RequestHandOff(ctx, client, key, to)
	switch {
	case errors.Is(err, leader.ErrNoCandidate), errors.Is(err, leader.ErrNotLeader):
		return notNow{err}
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("the leader did not hand over within %v (request withdrawn)", timeout)
	case err != nil:
		return err
	}
	fmt.Fprintf(stdout, "%s\n", describe(h))
	return nil
}
