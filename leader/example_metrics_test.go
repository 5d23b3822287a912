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

// expvarMetrics publishes an elector's measurements with the standard
// library's expvar (served at /debug/vars); an adapter for Prometheus or
// OpenTelemetry has the same shape.
type expvarMetrics struct {
	leader.NopMetrics // ignore what we do not publish
	isLeader          expvar.Int
	terms             expvar.Map // ended terms by reason
	errors            expvar.Int
}

func (m *expvarMetrics) TermStarted(string, uint64) { m.isLeader.Set(1) }

func (m *expvarMetrics) TermEnded(_ string, reason error, _ time.Duration) {
	m.isLeader.Set(0)
	m.terms.Add(reason.Error(), 1)
}

func (m *expvarMetrics) ConsulError(string, error, bool) { m.errors.Add(1) }

// Report what the elector does to a metrics system.
func ExampleWithMetrics() {
	client, err := api.NewClient(api.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	m := &expvarMetrics{}
	m.terms.Init()
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
	fmt.Println("leader gauge:", m.isLeader.Value())
	if err := e.Stop(context.Background()); err != nil {
		log.Fatal(err)
	}
	fmt.Println("leader gauge:", m.isLeader.Value(), "terms:", m.terms.String())
	// Output:
	// leader gauge: 1
	// leader gauge: 0 terms: {"leader: elector stopped": 1}
}
