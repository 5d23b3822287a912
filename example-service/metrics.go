package main

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/consulelect/consulelect/leader"
)

// metrics is the service's leader.Metrics: counters kept in memory and
// served as JSON at GET /metrics. A real service would adapt the same five
// functions to Prometheus or OpenTelemetry.
type metrics struct {
	mu           sync.Mutex
	isLeader     int
	termsStarted int
	termsEnded   map[string]int // by reason
	consulErrors int
	lastRTT      time.Duration // of the last confirmation
	stragglers   []string      // leader work stuck after its term
}

func newMetrics() *metrics { return &metrics{termsEnded: map[string]int{}} }

// asLeaderMetrics provides m to the elector (the module takes a
// leader.Metrics from the graph).
func asLeaderMetrics(m *metrics) leader.Metrics {
	return leader.Metrics{TermStarted: m.TermStarted, TermEnded: m.TermEnded, Confirmed: m.Confirmed,
		ConsulError: m.ConsulError, Stragglers: m.Stragglers}
}

func (m *metrics) TermStarted(string, uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.isLeader, m.termsStarted = 1, m.termsStarted+1
}

func (m *metrics) TermEnded(_ string, reason error, _ time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.isLeader = 0
	m.termsEnded[reason.Error()]++
}

func (m *metrics) Confirmed(_ string, rtt time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lastRTT = rtt
}

func (m *metrics) ConsulError(string, error, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.consulErrors++
}

func (m *metrics) Stragglers(_ string, names []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stragglers = names
}

// metricsJSON is the body of GET /metrics.
type metricsJSON struct {
	IsLeader              int            `json:"is_leader"`
	TermsStarted          int            `json:"terms_started"`
	TermsEnded            map[string]int `json:"terms_ended"`
	ConsulErrors          int            `json:"consul_errors"`
	LastConfirmRTTSeconds float64        `json:"last_confirm_rtt_seconds"`
	Stragglers            []string       `json:"stragglers,omitempty"`
}

func (m *metrics) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	m.mu.Lock()
	body := metricsJSON{IsLeader: m.isLeader, TermsStarted: m.termsStarted, TermsEnded: map[string]int{},
		ConsulErrors: m.consulErrors, LastConfirmRTTSeconds: m.lastRTT.Seconds(), Stragglers: m.stragglers}
	for k, v := range m.termsEnded {
		body.TermsEnded[k] = v
	}
	m.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}
