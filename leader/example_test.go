package leader_test

import (
	"context"
	"fmt"
	"log"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/leader"
)

// A plain Go program: Run campaigns until its context ends; the leader
// function runs for each term, under the term's context.
func Example() {
	client, err := api.NewClient(api.DefaultConfig()) // CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN, ...
	if err != nil {
		log.Fatal(err)
	}
	elected := make(chan struct{})
	e, err := leader.New(client, leader.Config{Key: "example/scheduler", Identity: "replica-1"},
		leader.WithLeaderFunc(func(ctx context.Context, term *leader.Term) error {
			fmt.Println("elected, fencing token issued:", term.Token > 0, leader.TermFromContext(ctx) == term)
			close(elected)
			<-ctx.Done() // do leader-only work until the term ends
			fmt.Println("term ended:", context.Cause(ctx))
			return nil
		}))
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()

	<-elected
	fmt.Println("role:", e.Status().Role)
	cancel() // graceful: term cancelled, work awaited, key released
	fmt.Println("run returned:", <-done)
	// Output:
	// elected, fencing token issued: true true
	// role: leader
	// term ended: leader: elector stopped
	// run returned: <nil>
}

// Start and Stop fit lifecycle hooks; Observe follows who leads; Resign
// steps down for a deploy.
func ExampleElector_Start() {
	client, err := api.NewClient(api.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	e, err := leader.New(client, leader.Config{Key: "example/janitor", Identity: "replica-a"})
	if err != nil {
		log.Fatal(err)
	}
	if err := e.Start(); err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	for h := range e.Observe(ctx) {
		if h != nil {
			fmt.Println("leader:", h.ID)
			break
		}
	}
	cancel()
	if err := e.Resign(context.Background()); err != nil {
		log.Fatal(err)
	}
	fmt.Println("resigned; leading:", e.IsLeader())
	if err := e.Stop(context.Background()); err != nil {
		log.Fatal(err)
	}
	fmt.Println("stopped:", e.Status().Role)
	// Output:
	// leader: replica-a
	// resigned; leading: false
	// stopped: stopped
}
