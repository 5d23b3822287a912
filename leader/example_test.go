package leader_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/hashicorp/go-hclog"

	"github.com/consulelect/consulelect/hooks"
	"github.com/consulelect/consulelect/leader"
	"github.com/consulelect/consulelect/lifecycle"
)

// A plain Go program: Run campaigns until its context ends; the leader
// function runs for each term, under the term's context. (The README's
// quick start is the part between the readme markers.)
func Example() {
	ctx, stop := context.WithCancel(context.Background())
	// readme:begin plain-go
	client, err := api.NewClient(api.DefaultConfig()) // CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN, TLS variables
	if err != nil {
		log.Fatal(err)
	}
	e, err := leader.New(client, leader.Config{Key: "my-service/leader"},
		leader.WithLogger(hclog.Default()),
		leader.WithLeaderFunc(func(ctx context.Context, term *leader.Term) error {
			// Leader-only work; stop when ctx is done. Pass term.Token() to
			// the systems you write to, so that they can reject a stale leader.
			fmt.Println("elected, fencing token issued:", term.Token() > 0) // readme:hide
			stop()                                                          // readme:hide: end the example's run
			<-ctx.Done()
			fmt.Println("term ended:", context.Cause(ctx)) // readme:hide
			return nil
		}))
	if err != nil {
		log.Fatal(err) // an invalid config names the field
	}
	err = e.Run(ctx) // or e.Start() and e.Stop(ctx) from lifecycle hooks
	// readme:end
	fmt.Println("run returned:", err)
	// Output:
	// elected, fencing token issued: true
	// term ended: leader: elector stopped
	// run returned: <nil>
}

// Many keys in one process share a Group's check and confirmations.
func ExampleNewGroup() {
	ctx := context.Background()
	client, err := api.NewClient(api.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	// readme:begin group
	g, err := leader.NewGroup(client, leader.GroupConfig{})
	if err != nil {
		log.Fatal(err)
	}
	if err := g.Start(); err != nil {
		log.Fatal(err)
	}
	defer g.Stop(ctx) // after the electors
	e, err := leader.New(client, leader.Config{Key: "shards/17/leader"}, leader.WithGroup(g))
	if err != nil {
		log.Fatal(err)
	}
	// readme:end
	if err := e.Start(); err != nil {
		log.Fatal(err)
	}
	for !e.IsLeader() {
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Println("leading shard 17:", e.Term().Key())
	if err := e.Stop(ctx); err != nil {
		log.Fatal(err)
	}
	// Output:
	// leading shard 17: shards/17/leader
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

// Hooks and leader-only workers on an elector, in plain Go: the
// supervisor runs the workers, the hooks run around it, and the result is
// the elector's leader function.
func Example_hooksAndWorkers() {
	client, err := api.NewClient(api.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	logger := hclog.NewNullLogger()
	started := make(chan struct{})
	scheduler := lifecycle.WorkerFunc("scheduler", func(ctx context.Context) error {
		fmt.Println("scheduler: running on the leader")
		close(started)
		<-ctx.Done()
		return nil
	})
	announce := hooks.Hook{Name: "announce", OnDemoted: func(_ context.Context, _ *leader.Term, reason error) {
		fmt.Println("demoted:", reason)
	}}
	// readme:begin plain-wiring
	sup, err := lifecycle.NewSupervisor([]lifecycle.Worker{scheduler}, lifecycle.WithLogger(logger))
	if err != nil {
		log.Fatal(err)
	}
	lead, err := hooks.LeaderFunc([]hooks.Hook{announce}, sup.Run, hooks.WithLogger(logger))
	if err != nil {
		log.Fatal(err)
	}
	e, err := leader.New(client, leader.Config{Key: "my-service/leader"},
		leader.WithLogger(logger), leader.WithLeaderFunc(lead))
	// readme:end
	if err != nil {
		log.Fatal(err)
	}
	if err := e.Start(); err != nil {
		log.Fatal(err)
	}
	<-started
	if err := e.Stop(context.Background()); err != nil {
		log.Fatal(err)
	}
	// Output:
	// scheduler: running on the leader
	// demoted: leader: elector stopped
}
