package leader_test

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/hashicorp/go-hclog"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/leader"
)

// Consul down when the elector starts (connection refused): the error is
// reported as transient and retried with backoff until Consul is back.
func TestTransientErrorsAreRetried(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	srv.Kill(t)
	warns := &lineCounter{}
	e := startElector(t, client, cfgFor("svc/transient", "patient"), leader.WithLogger(hclog.New(&hclog.LoggerOptions{
		Level: hclog.Warn, Output: warns})))
	waitFor(t, 5*time.Second, "an error in status", func() bool { return e.Status().LastError != nil })
	// The check's registration fails every CheckTTL/3 (400ms); it is
	// logged at Warn once, then at Debug (and at Warn every 30s), not
	// once per try.
	time.Sleep(3 * time.Second)
	if n := warns.count(); n > 3 {
		t.Errorf("%d warnings in 3s with Consul down, want at most 3:\n%s", n, warns.text())
	}
	if err := e.Status().LastError; leader.IsPermanent(err) {
		t.Fatalf("connection refused classed permanent: %v", err)
	}
	if e.Status().Role != leader.RoleFollower {
		t.Fatalf("role %v while Consul is down", e.Status().Role)
	}
	srv.Restart(t)
	waitFor(t, 15*time.Second, "leadership once Consul is back", e.IsLeader)
	if err := e.Status().LastError; err != nil {
		t.Errorf("error not cleared after success: %v", err)
	}
}

// ACL denied is permanent: it is surfaced in Status and retried slowly
// (PermanentErrorRetry), not spun on.
func TestPermanentErrorIsSurfacedNotSpun(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{ACL: true})
	var requests atomic.Int64
	cfg := srv.Config()
	cfg.Token = "" // anonymous: default deny
	cfg.HttpClient = &http.Client{Transport: countingTransport{&requests, http.DefaultTransport}}
	client, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	retry := time.Second
	e := startElector(t, client, leader.Config{Key: "svc/acl", Identity: "denied", PermanentErrorRetry: retry})
	waitFor(t, 5*time.Second, "a permanent error in status", func() bool {
		return leader.IsPermanent(e.Status().LastError)
	})
	var se api.StatusError
	if !errors.As(e.Status().LastError, &se) || se.Code != http.StatusForbidden {
		t.Fatalf("last error %v, want a 403", e.Status().LastError)
	}
	before := requests.Load()
	window := 3 * time.Second
	time.Sleep(window) // a window to count requests in, not synchronisation
	sent := requests.Load() - before
	t.Logf("%d requests in %v with PermanentErrorRetry %v", sent, window, retry)
	if max := int64(window/retry) + 1; sent > max {
		t.Fatalf("%d requests in %v: spinning on a permanent error (at most %d expected)", sent, window, max)
	}
	if e.IsLeader() {
		t.Fatal("leads without permission")
	}
}

// A key that another protocol uses (a semaphore's flags) is never
// clobbered: the elector reports ErrForeignKey and keeps watching.
func TestForeignKeyIsNotClobbered(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	const key = "svc/semaphore/.lock"
	if _, err := client.KV().Put(&api.KVPair{Key: key, Flags: api.SemaphoreFlagValue, Value: []byte(`{"Limit":2}`)}, nil); err != nil {
		t.Fatal(err)
	}
	e := startElector(t, client, cfgFor(key, "careful"))
	waitFor(t, 5*time.Second, "ErrForeignKey in status", func() bool {
		return errors.Is(e.Status().LastError, consulelect.ErrForeignKey)
	})
	if e.IsLeader() {
		t.Fatal("acquired a semaphore's key")
	}
	// Once the key is freed of its foreign use, the elector takes it.
	if _, err := client.KV().Delete(key, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "leadership after the delete", e.IsLeader)
}

type countingTransport struct {
	n    *atomic.Int64
	next http.RoundTripper
}

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

// lineCounter is a log output that counts its lines.
type lineCounter struct {
	mu    sync.Mutex
	lines []string
}

func (c *lineCounter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines = append(c.lines, string(p))
	return len(p), nil
}

func (c *lineCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.lines)
}

func (c *lineCounter) text() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.lines, "")
}
