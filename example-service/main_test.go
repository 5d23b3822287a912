package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/goleak"

	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/leader"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, consultest.LeakOptions()...)
}

type replica struct {
	app     *fxtest.App
	server  *httpServer
	elector *leader.Elector
	ledger  *ledger
}

func startReplica(t *testing.T, consulAddr, id string) *replica {
	t.Helper()
	o := options{consulAddr: consulAddr, key: "example/leader", identity: id, listen: "127.0.0.1:0",
		ledgerKey: "example/ledger", interval: 50 * time.Millisecond, logLevel: "warn", advertise: "example-svc"}
	r := &replica{}
	r.app = fxtest.New(t, appOptions(o, fx.Populate(&r.server, &r.elector, &r.ledger))...)
	r.app.RequireStart()
	return r
}

func httpGet(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Two replicas against a real agent: the endpoints report the roles,
// /metrics the leader gauge (1 on the leader, 0 on the standby), the
// leader's worker appends fenced records, a graceful stop hands over, and
// the old leader's write with its old term is rejected by Consul.
func TestServiceEndpointsAndFencedLedger(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	r1 := startReplica(t, srv.HTTPAddr, "r1")
	waitUntil(t, 10*time.Second, "r1 to lead", r1.elector.IsLeader)
	r2 := startReplica(t, srv.HTTPAddr, "r2")
	waitUntil(t, 5*time.Second, "r2 to follow", func() bool { return r2.elector.Status().Leader != nil })

	base := func(r *replica) string { return "http://" + r.server.Addr() }
	tests := []struct {
		name string
		url  string
		code int
	}{
		{"leader role", base(r1) + "/role", 200},
		{"follower role", base(r2) + "/role", 200},
		{"leader-only on leader", base(r1) + "/leader", 200},
		{"leader-only on follower", base(r2) + "/leader", 429},
		{"liveness leader", base(r1) + "/healthz", 200},
		{"liveness follower", base(r2) + "/healthz", 200},
		{"metrics", base(r2) + "/metrics", 200},
	}
	for _, tt := range tests {
		if code, body := httpGet(t, tt.url); code != tt.code {
			t.Errorf("%s: %d, want %d: %s", tt.name, code, tt.code, body)
		}
	}
	const status = `leader_election_master_status{name="example/leader"}`
	for _, tt := range []struct {
		r      *replica
		series string
		want   float64
	}{
		{r1, status, 1},
		{r2, status, 0},
		{r1, `consulelect_leader_terms_started_total{key="example/leader"}`, 1},
		{r2, `consulelect_leader_time_to_deadline_seconds{key="example/leader"}`, 0},
	} {
		if got, ok := scrape(t, base(tt.r), tt.series); !ok || got != tt.want {
			t.Errorf("%s /metrics: %s = %v (present %v), want %v", tt.r.elector.Config().Identity, tt.series, got, ok, tt.want)
		}
	}
	var role struct {
		Role   string         `json:"role"`
		Leader *leader.Holder `json:"leader"`
	}
	_, body := httpGet(t, base(r2)+"/role")
	if err := json.Unmarshal(body, &role); err != nil || role.Role != "follower" || role.Leader == nil || role.Leader.ID != "r1" {
		t.Fatalf("r2 /role: %s (%v)", body, err)
	}

	oldTerm := r1.elector.Term()
	waitUntil(t, 5*time.Second, "r1's records", func() bool { return countBy(t, base(r2), "r1", oldTerm.Token()) >= 3 })

	tagged := func(tag, id string) func() bool { // the catalog's view of the DNS tag
		return func() bool {
			svcs, _, err := client.Catalog().Service("example-svc", tag, nil)
			return err == nil && len(svcs) == 1 && svcs[0].ServiceID == "example-svc-"+id
		}
	}
	waitUntil(t, 5*time.Second, "r1 tagged leader in the catalog", tagged("leader", "r1"))
	waitUntil(t, 5*time.Second, "r2 tagged standby in the catalog", tagged("standby", "r2"))
	r1.app.RequireStop() // graceful: the worker stops, the key is released
	waitUntil(t, 5*time.Second, "r2 to lead", r2.elector.IsLeader)
	waitUntil(t, 5*time.Second, "r2 tagged leader in the catalog", tagged("leader", "r2"))
	if got, _ := scrape(t, base(r2), status); got != 1 {
		t.Errorf("r2 /metrics after the handoff: %s = %v, want 1", status, got)
	}
	newToken := r2.elector.Term().Token()
	waitUntil(t, 5*time.Second, "r2's records", func() bool { return countBy(t, base(r2), "r2", newToken) >= 1 })

	// A stale leader (r1's ledger with r1's last term) is fenced off.
	err := r1.ledger.append(context.Background(), oldTerm)
	if !errors.Is(err, errFenced) {
		t.Fatalf("stale write: %v, want errFenced", err)
	}
	recs, _ := r2.ledger.read(context.Background())
	for i := 1; i < len(recs); i++ {
		if recs[i].Token < recs[i-1].Token {
			t.Fatalf("ledger tokens go backwards: %+v then %+v", recs[i-1], recs[i])
		}
	}
	r2.app.RequireStop()
}

// scrape GETs base's /metrics (Prometheus' text format) and returns the
// value of series (name{labels} as exposed).
func scrape(t *testing.T, base, series string) (float64, bool) {
	t.Helper()
	code, body := httpGet(t, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d: %s", code, body)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return f, err == nil
		}
	}
	return 0, false
}

func countBy(t *testing.T, base, id string, token uint64) int {
	_, body := httpGet(t, base+"/ledger")
	var recs []record
	if err := json.Unmarshal(body, &recs); err != nil {
		t.Fatalf("ledger: %s", body)
	}
	n := 0
	for _, r := range recs {
		if r.Leader == id && r.Token == token {
			n++
		}
	}
	return n
}

func TestParseOptions(t *testing.T) {
	env := map[string]string{"CONSUL_HTTP_ADDR": "10.0.0.1:8500", "CONSULELECT_KEY": "k/env", "LEDGER_INTERVAL": "2s"}
	getenv := func(k string) string { return env[k] }
	tests := []struct {
		name    string
		args    []string
		check   func(options) error
		wantErr bool
	}{
		{"env", nil, func(o options) error {
			if o.consulAddr != "10.0.0.1:8500" || o.key != "k/env" || o.interval != 2*time.Second {
				return fmt.Errorf("%+v", o)
			}
			return nil
		}, false},
		{"flags win", []string{"-key", "k/flag", "-interval", "250ms"}, func(o options) error {
			if o.key != "k/flag" || o.interval != 250*time.Millisecond {
				return fmt.Errorf("%+v", o)
			}
			return nil
		}, false},
		{"bad interval", []string{"-interval", "-1s"}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseOptions(tt.args, getenv)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if tt.check != nil {
				if err := tt.check(o); err != nil {
					t.Error(err)
				}
			}
		})
	}
}
