package leader_test

import (
	"context"
	"expvar"
	"fmt"
	"log"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/leader"
)

// Report what the elector does to a metrics system: here the standard
// library's expvar (served at /debug/vars); an adapter for Prometheus or
// OpenTelemetry has the same shape. Unset fields are not called.
func ExampleWithMetrics() {
	client, err := api.NewClient(api.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	var isLeader, consulErrors expvar.Int
	var terms expvar.Map // ended terms by reason
	terms.Init()
	m := leader.Metrics{
		TermStarted: func(string, uint64) { isLeader.Set(1) },
		TermEnded: func(_ string, reason error, _ time.Duration) {
			isLeader.Set(0)
			terms.Add(reason.Error(), 1)
		},
		ConsulError: func(string, error, bool) { consulErrors.Add(1) },
	}
	e, err := leader.New(client, leader.Config{Key: "example/metrics", Identity: "replica-m"}, leader.WithMetrics(m))
	if err != nil {
		log.Fatal(err)
	}
	if err := e.Start(); err != nil {
		log.Fatal(err)
	}
	for !e.IsLeader() {
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Println("leader gauge:", isLeader.Value())
	if err := e.Stop(context.Background()); err != nil {
		log.Fatal(err)
	}
	fmt.Println("leader gauge:", isLeader.Value(), "terms:", terms.String())
	// Output:
	// leader gauge: 1
	// leader gauge: 0 terms: {"leader: elector stopped": 1}
}
