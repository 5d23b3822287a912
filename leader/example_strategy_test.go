package leader_test

import (
	"context"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/leader"
)

// Priority: the replica in the primary zone leads whenever it is live; a
// freed key goes to it first, and a leader of lower priority hands over to
// it once it has been live for StabilityWindow.
func ExampleConfig_priority() {
	ctx := context.Background()
	client, err := api.NewClient(api.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	start := func(cfg leader.Config) *leader.Elector {
		cfg.StabilityWindow, cfg.YieldInterval = time.Second, time.Second // short, for the example
		e, err := leader.New(client, cfg)
		if err != nil {
			log.Fatal(err)
		}
		if err := e.Start(); err != nil {
			log.Fatal(err)
		}
		return e
	}
	standby := start(leader.Config{Key: "example/priority", Identity: "standby", Priority: 1})
	defer standby.Stop(ctx)
	for !standby.IsLeader() {
		time.Sleep(10 * time.Millisecond)
	}
	// readme:begin priority
	cfg := leader.Config{
		Key:      "example/priority",
		Identity: "primary",
		Priority: 2, // higher leads; 0 (the default) for all is first come; negative never leads
	}
	// readme:end

	primary := start(cfg)
	defer primary.Stop(ctx)
	for !primary.IsLeader() {
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Println(primary.Status().Leader.ID, "leads:", primary.Status().Leader.Why)
	// Output: primary leads: handed over by standby (priority)
}

// A rolling upgrade with OldestVersion: replicas of the new version take
// over only once every replica of the old one is gone.
func ExampleConfig_version() {
	// readme:begin version
	cfg := leader.Config{
		Key:           "my-service/leader",
		Version:       "1.4.2", // this build's version (semantic versioning)
		PreferVersion: leader.OldestVersion,
	}
	// readme:end
	_, err := leader.New(&api.Client{}, cfg)
	fmt.Println(err)
	// Output: <nil>
}

// Operator handoff: in the process with HandOff, or from any process
// (a deploy script, the operator's tool) with RequestHandOff.
func ExampleRequestHandOff() {
	ctx := context.Background()
	client, err := api.NewClient(api.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	var es []*leader.Elector
	for _, id := range []string{"replica-a", "replica-b"} {
		e, err := leader.New(client, leader.Config{Key: "example/handoff", Identity: id})
		if err != nil {
			log.Fatal(err)
		}
		if err := e.Start(); err != nil {
			log.Fatal(err)
		}
		defer e.Stop(ctx)
		es = append(es, e)
	}
	for len(es[0].Status().Candidates) < 2 || len(es[1].Status().Candidates) < 2 || (!es[0].IsLeader() && !es[1].IsLeader()) {
		time.Sleep(10 * time.Millisecond)
	}
	to := "replica-b"
	if es[1].IsLeader() {
		to = "replica-a"
	}
	// readme:begin handoff
	h, err := leader.RequestHandOff(ctx, client, "example/handoff", to) // "" for anyone else
	if err != nil {
		log.Fatal(err) // leader.ErrNoCandidate: no such live candidate
	}
	// readme:end
	fmt.Println(h.ID == to, strings.HasSuffix(h.Why, "(operator)"))
	// Output: true true
}

// Balanced leadership over a Group's keys: each live replica leads at most
// ⌈K/M⌉ of them.
func ExampleGroupConfig_balance() {
	client, err := api.NewClient(api.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	// readme:begin balance
	g, err := leader.NewGroup(client, leader.GroupConfig{
		Balance: true,
		Name:    "my-service-shards", // the same on every replica that runs these keys
	})
	// readme:end
	fmt.Println(g != nil, err)
	// Output: true <nil>
}
