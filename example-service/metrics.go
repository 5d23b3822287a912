package main

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/consulelect/consulelect/leader"
	consulelectprom "github.com/consulelect/consulelect/metrics/prometheus"
)

// metrics is the service's Prometheus registry, served at GET /metrics:
// the Go runtime's and the process's collectors, and consulelect's
// Prometheus adapter (leader_election_master_status and the
// consulelect_* series).
type metrics struct {
	reg     *prometheus.Registry
	adapter *consulelectprom.Metrics
	handler http.Handler
}

func newMetrics() (*metrics, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	adapter, err := consulelectprom.New(reg)
	if err != nil {
		return nil, err
	}
	return &metrics{reg: reg, adapter: adapter, handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{})}, nil
}

// asLeaderMetrics provides the adapter's functions to the elector (the
// module takes a leader.Metrics from the graph).
func asLeaderMetrics(m *metrics) leader.Metrics { return m.adapter.Leader() }

// watchElector adds the elector to the gauges read at each scrape: the
// status from the start (0 on a standby) and the time left to the term's
// deadline.
func watchElector(m *metrics, e *leader.Elector) { m.adapter.Watch(e) }

func (m *metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.handler.ServeHTTP(w, r) }
