package consulelectprom_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/consulelect/consulelect/leader"
	"github.com/consulelect/consulelect/lock"
	consulelectprom "github.com/consulelect/consulelect/metrics/prometheus"
)

// An elector and a lock session report to a registry served at /metrics;
// the leader's scrape shows client-go's leader gauge at 1.
func Example() {
	client, err := api.NewClient(api.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	// readme:begin metrics-prometheus
	reg := prometheus.NewRegistry() // or prometheus.DefaultRegisterer
	m, err := consulelectprom.New(reg)
	if err != nil {
		log.Fatal(err)
	}
	e, err := leader.New(client, leader.Config{Key: "my-service/leader"}, leader.WithMetrics(m.Leader()))
	if err != nil {
		log.Fatal(err)
	}
	m.Watch(e) // the status gauge from now on (0 on a standby), the time left to the deadline
	locks, err := lock.NewSession(client, lock.Config{}, lock.WithMetrics(m.Lock()))
	if err != nil {
		log.Fatal(err)
	}
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	// readme:end
	if err := e.Start(); err != nil {
		log.Fatal(err)
	}
	for !e.IsLeader() {
		time.Sleep(10 * time.Millisecond)
	}
	if err := locks.Do(context.Background(), "example/prom-lock", func(context.Context, uint64) error { return nil }); err != nil {
		log.Fatal(err)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasPrefix(line, "leader_election_master_status") || strings.HasPrefix(line, "consulelect_lock_releases_total") {
			fmt.Println(line)
		}
	}
	if err := e.Stop(context.Background()); err != nil {
		log.Fatal(err)
	}
	if err := locks.Close(context.Background()); err != nil {
		log.Fatal(err)
	}
	// Output:
	// consulelect_lock_releases_total{key="example/prom-lock",reason="unlocked"} 1
	// leader_election_master_status{name="my-service/leader"} 1
}
