package consultest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"
)

const (
	// readyTimeout bounds the wait for agents to become ready.
	readyTimeout = 30 * time.Second
	// pollInterval is the pause between two readiness probes.
	pollInterval = 25 * time.Millisecond
	// probeTimeout bounds one HTTP request of a probe.
	probeTimeout = 2 * time.Second
)

// WaitReady waits until the agent is ready: its HTTP API answers,
// /v1/status/leader names a raft leader, its own node is registered in the
// catalog and the node's serfHealth check is passing (so that sessions can
// be created on it; a fresh dev server knows its leader before its node is
// registered, and creating a session then fails with "Missing node
// registration"). It fails the test, with the end of the agent's log, if
// the agent exits or is not ready within 30s.
func (a *Agent) WaitReady(t testing.TB) {
	t.Helper()
	if err := waitReady(readyTimeout, a); err != nil {
		failStart(t, err)
	}
}

// boot writes the configs of agents, starts them and waits until all are
// ready. If an agent exits because one of its ports was taken meanwhile
// (another process can bind a port between our probe and the agent), all
// agents are killed, get new ports, configure (if not nil) is called again,
// and the start is retried.
func boot(t testing.TB, agents []*Agent, configure func()) {
	t.Helper()
	const attempts = 3
	for attempt := 1; ; attempt++ {
		if configure != nil {
			configure()
		}
		for _, a := range agents {
			if err := a.writeConfig(); err != nil {
				t.Fatalf("consultest: write config of %s: %v", a.Name, err)
			}
			if err := a.launch(); err != nil {
				t.Fatalf("consultest: %v", err)
			}
		}
		err := waitReady(readyTimeout, agents...)
		if err == nil {
			return
		}
		var nr *notReadyError
		if attempt < attempts && errors.As(err, &nr) && nr.exited && nr.agent.bindConflict() {
			t.Logf("consultest: agent %s: port already in use; retrying with new ports", nr.agent.Name)
			for _, a := range agents {
				if kerr := a.kill(); kerr != nil {
					t.Fatalf("consultest: %v", kerr)
				}
				a.assignPorts(t)
			}
			continue
		}
		failStart(t, err)
	}
}

// failStart fails the test with err and, for a notReadyError, the end of
// the agent's log.
func failStart(t testing.TB, err error) {
	t.Helper()
	var nr *notReadyError
	if errors.As(err, &nr) {
		t.Fatalf("consultest: %v\nlast lines of %s:\n%s", err, nr.agent.LogFile, nr.agent.logTail(40))
	}
	t.Fatalf("consultest: %v", err)
}

// notReadyError says why an agent did not become ready.
type notReadyError struct {
	agent  *Agent
	exited bool  // the process exited
	err    error // exit status or last probe error
	after  time.Duration
}

func (e *notReadyError) Error() string {
	if e.exited {
		return fmt.Sprintf("agent %s exited during start (after %v): %v", e.agent.Name, e.after.Round(time.Millisecond), e.err)
	}
	return fmt.Sprintf("agent %s not ready after %v: %v", e.agent.Name, e.after.Round(time.Millisecond), e.err)
}

// waitReady polls every agent until all are ready, one exits, or timeout.
func waitReady(timeout time.Duration, agents ...*Agent) error {
	hc := newProbeClient()
	defer hc.CloseIdleConnections()
	start := time.Now()
	pending := append([]*Agent(nil), agents...)
	lastErr := make(map[*Agent]error)
	for {
		next := pending[:0]
		for _, a := range pending {
			a.mu.Lock()
			p := a.proc
			a.mu.Unlock()
			if p == nil {
				return &notReadyError{agent: a, exited: true, err: errors.New("never started"), after: time.Since(start)}
			}
			if p.exited() {
				return &notReadyError{agent: a, exited: true, err: p.err, after: time.Since(start)}
			}
			if err := a.probe(hc); err != nil {
				lastErr[a] = err
				next = append(next, a)
			}
		}
		pending = next
		if len(pending) == 0 {
			return nil
		}
		if time.Since(start) > timeout {
			a := pending[0]
			return &notReadyError{agent: a, err: lastErr[a], after: time.Since(start)}
		}
		time.Sleep(pollInterval)
	}
}

// probe returns nil if a is ready (see WaitReady).
func (a *Agent) probe(hc *http.Client) error {
	var leader string
	if err := a.getJSON(hc, "/v1/status/leader", &leader); err != nil {
		return err
	}
	if leader == "" {
		return errors.New("no raft leader yet")
	}
	var node *struct{ Node *struct{ Node string } }
	if err := a.getJSON(hc, "/v1/catalog/node/"+url.PathEscape(a.Name), &node); err != nil {
		return err
	}
	if node == nil || node.Node == nil || node.Node.Node != a.Name {
		return fmt.Errorf("node %s not registered in the catalog yet", a.Name)
	}
	var checks []struct{ CheckID, Status string }
	if err := a.getJSON(hc, "/v1/health/node/"+url.PathEscape(a.Name), &checks); err != nil {
		return err
	}
	for _, c := range checks {
		if c.CheckID == "serfHealth" {
			if c.Status == "passing" {
				return nil
			}
			return fmt.Errorf("serfHealth of %s is %s", a.Name, c.Status)
		}
	}
	return fmt.Errorf("node %s has no serfHealth check yet", a.Name)
}

// newProbeClient returns an HTTP client without keep-alives (no idle
// connections, no lingering goroutines) and without proxies.
func newProbeClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{DisableKeepAlives: true},
		Timeout:   probeTimeout,
	}
}

// getJSON GETs path from a's HTTP API (with RootToken if ACLs are on) and
// decodes the JSON answer into v.
func (a *Agent) getJSON(hc *http.Client, path string, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+a.HTTPAddr+path, nil)
	if err != nil {
		return err
	}
	if a.ACL {
		req.Header.Set("X-Consul-Token", RootToken)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %.200s", path, resp.Status, body)
	}
	return json.Unmarshal(body, v)
}
