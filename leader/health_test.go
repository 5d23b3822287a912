package leader_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/internal/harness/consultest"
)

func get(t *testing.T, h http.Handler) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b)
}

func TestHealthHandlers(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	const key = "svc/health"
	e1 := startElector(t, client, cfgFor(key, "e1"))
	waitFor(t, 10*time.Second, "e1 to lead", e1.IsLeader)
	e2 := startElector(t, client, cfgFor(key, "e2"))
	waitFor(t, 5*time.Second, "e2 to follow", func() bool { return e2.Status().Leader != nil })
	waitFor(t, 5*time.Second, "both in e2's line", func() bool { return len(e2.Status().Candidates) == 2 })

	tests := []struct {
		name     string
		h        http.Handler
		code     int
		contains []string
	}{
		{"leader status", e1.Handlers().Status, 200, []string{`"role":"leader"`, `"is_leader":true`, `"fencing_token":`, `"key":"svc/health"`}},
		{"follower status", e2.Handlers().Status, 200, []string{`"role":"follower"`, `"is_leader":false`, `"leader":{"id":"e1"`,
			`"why":"first to acquire"`, `"candidates":[{"identity":"e`, `"priority":0`, `"live_since":`}},
		{"leader-only on leader", e1.Handlers().LeaderOnly, 200, nil},
		{"leader-only on follower", e2.Handlers().LeaderOnly, 429, nil},
		{"liveness of leader", e1.Handlers().Liveness, 200, nil},
		{"liveness of follower", e2.Handlers().Liveness, 200, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := get(t, tt.h)
			if code != tt.code {
				t.Errorf("code %d, want %d (%s)", code, tt.code, body)
			}
			for _, s := range tt.contains {
				if !strings.Contains(body, s) {
					t.Errorf("body %s lacks %s", body, s)
				}
			}
		})
	}
	var j struct {
		FencingToken uint64 `json:"fencing_token"`
	}
	_, body := get(t, e1.Handlers().Status)
	if err := json.Unmarshal([]byte(body), &j); err != nil || j.FencingToken != e1.Term().Token() {
		t.Errorf("fencing_token %d, want %d (%v)", j.FencingToken, e1.Term().Token(), err)
	}
}

// A Consul outage is not a liveness failure, and the ACL token never
// appears in any output.
func TestHealthShowsNoSecretAndOutageIsLive(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{ACL: true})
	const secret = "5ec2e7aa-0000-4000-8000-00000000beef"
	cfg := srv.Config()
	cfg.Token = secret // unknown to Consul: 403 ACL not found
	client, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := startElector(t, client, cfgFor("svc/secret", "e"))
	waitFor(t, 5*time.Second, "an error in status", func() bool { return e.Status().LastError != nil })
	for _, h := range []http.Handler{e.Handlers().Status, e.Handlers().LeaderOnly, e.Handlers().Liveness} {
		if _, body := get(t, h); strings.Contains(body, secret) {
			t.Fatalf("token in output: %s", body)
		}
	}
	if code, body := get(t, e.Handlers().Liveness); code != 200 {
		t.Fatalf("liveness %d during an outage: %s", code, body)
	}
	if _, body := get(t, e.Handlers().Status); !strings.Contains(body, `"last_error":`) {
		t.Fatalf("error not reported: %s", body)
	}
}
