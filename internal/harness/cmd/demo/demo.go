package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/leader"
)

// settings of one demo run.
type settings struct {
	service  string        // example-service binary
	replicas int           // how many
	observe  time.Duration // how long to let the leader work before a fault
	timeline string        // write the run's timeline page here ("": none)
}

// demo narrates a timeline on out.
type demo struct {
	out      io.Writer
	start    time.Time
	replicas []*replica
}

func (d *demo) say(format string, args ...any) {
	fmt.Fprintf(d.out, "  %7.2fs  %s\n", time.Since(d.start).Seconds(), fmt.Sprintf(format, args...))
}

// run plays the demo: a Consul agent, N replicas, a graceful stop of the
// leader and a crash of the next one, with measured handoff times.
func run(ctx context.Context, out io.Writer, s settings) error {
	d := &demo{out: out, start: time.Now()}
	fmt.Fprintf(out, "consulelect demo: %d replicas of example-service electing a leader on Consul\n\n", s.replicas)
	tb, cleanup := consultest.Standalone()
	defer cleanup()
	var agent *consultest.Agent
	if err := consultest.Catch(func() { agent = consultest.DevServer(tb, consultest.Options{}) }); err != nil {
		return err
	}
	d.say("Consul dev agent ready on %s", agent.HTTPAddr)
	dir, err := os.MkdirTemp("", "consulelect-demo")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	defer d.stopAll()
	for i := 1; i <= s.replicas; i++ {
		r, err := startReplica(s.service, dir, agent.HTTPAddr, "demo/leader", fmt.Sprintf("replica-%d", i))
		if err != nil {
			return err
		}
		d.replicas = append(d.replicas, r)
		d.say("started %s, HTTP on %s", r.name, r.listen)
	}
	var rec *recorder
	if s.timeline != "" {
		cfg := agent.Config()
		defer cfg.Transport.CloseIdleConnections()
		client, err := api.NewClient(cfg)
		if err != nil {
			return err
		}
		rec = d.startRecorder(ctx, client, "demo/leader")
		defer rec.stopRecorder()
	}
	first, err := d.waitLeader(ctx, nil, 15*time.Second)
	if err != nil {
		return err
	}
	d.say("%s leads (fencing token %d); the others follow it", first.r.name, first.role.FencingToken)
	d.sleep(ctx, s.observe)
	d.say("ledger: %s", d.ledgerSummary(first.r))

	stopAt := time.Now()
	d.say("SIGTERM %s: graceful stop, it releases the key", first.r.name)
	if err := first.r.signal(syscall.SIGTERM, 20*time.Second); err != nil {
		return err
	}
	first.r.state = "stopped"
	if rec != nil {
		rec.fault(stopAt, time.Now(), "sigterm", "1", "SIGTERM "+first.r.name+": graceful stop (it releases the key), until it exited")
	}
	second, err := d.waitLeader(ctx, first.r, 15*time.Second)
	if err != nil {
		return err
	}
	handoff := second.role.Since.Sub(stopAt)
	d.say("%s leads (token %d): graceful handoff %v after the SIGTERM", second.r.name, second.role.FencingToken, handoff.Round(time.Millisecond))
	d.sleep(ctx, s.observe)

	killAt := time.Now()
	d.say("SIGKILL %s: a crash, nothing is released", second.r.name)
	if err := second.r.signal(syscall.SIGKILL, 5*time.Second); err != nil {
		return err
	}
	second.r.state = "killed"
	if rec != nil {
		rec.fault(killAt, time.Now(), "sigkill", "2", "SIGKILL "+second.r.name+": a crash, nothing is released")
	}
	d.say("Consul expires its session: its check goes critical within %v, then lock-delay %v",
		leader.DefaultCheckTTL, leader.DefaultLockDelay)
	third, err := d.waitLeader(ctx, second.r, 30*time.Second)
	if err != nil {
		return err
	}
	failover := third.role.Since.Sub(killAt)
	d.say("%s leads (token %d): crash failover %v after the SIGKILL", third.r.name, third.role.FencingToken, failover.Round(10*time.Millisecond))
	d.sleep(ctx, s.observe)
	d.say("ledger: %s", d.ledgerSummary(third.r))
	d.table(handoff, failover)
	if rec != nil {
		ledger, err := ledgerOf(third.r)
		if err != nil {
			return err
		}
		rec.stopRecorder()
		if err := writePage(s.timeline, rec.page(d.replicas, ledger, killAt)); err != nil {
			return err
		}
		fmt.Fprintf(d.out, "  timeline: %s\n\n", s.timeline)
	}
	return nil
}

// replicasNow returns the replicas (fixed once the demo has started them).
func (d *demo) replicasNow() []*replica { return d.replicas }

// sighting is a replica seen leading.
type sighting struct {
	r    *replica
	role role
}

// waitLeader polls the live replicas (except not) until one leads.
func (d *demo) waitLeader(ctx context.Context, not *replica, timeout time.Duration) (sighting, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, r := range d.replicas {
			if r == not || !r.alive() {
				continue
			}
			if ro, err := r.role(ctx); err == nil && ro.IsLeader {
				return sighting{r, ro}, nil
			}
		}
		if !d.sleep(ctx, 5*time.Millisecond) {
			return sighting{}, ctx.Err()
		}
	}
	return sighting{}, fmt.Errorf("no leader within %v (replica logs: %s)", timeout, d.replicas[0].log)
}

func (d *demo) ledgerSummary(r *replica) string {
	resp, err := http.Get("http://" + r.listen + "/ledger")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	var recs []struct {
		Token  uint64 `json:"token"`
		Leader string `json:"leader"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&recs); err != nil {
		return err.Error()
	}
	by := map[string]int{}
	var order []string
	for _, rec := range recs {
		k := fmt.Sprintf("%s (token %d)", rec.Leader, rec.Token)
		if by[k] == 0 {
			order = append(order, k)
		}
		by[k]++
	}
	parts := make([]string, 0, len(order))
	for _, k := range order {
		parts = append(parts, fmt.Sprintf("%d by %s", by[k], k))
	}
	return fmt.Sprintf("%d fenced record(s): %s", len(recs), strings.Join(parts, ", "))
}

func (d *demo) table(handoff, failover time.Duration) {
	fmt.Fprintf(d.out, "\n  %-10s  %-8s  %-9s  %s\n", "replica", "process", "role", "token")
	for _, r := range d.replicas {
		ro, err := r.role(context.Background())
		role, token := "-", "-"
		if r.alive() && err == nil {
			role = ro.Role
			if ro.IsLeader {
				token = fmt.Sprint(ro.FencingToken)
			}
		}
		fmt.Fprintf(d.out, "  %-10s  %-8s  %-9s  %s\n", r.name, r.state, role, token)
	}
	fmt.Fprintf(d.out, "\n  graceful handoff  %v\n  crash failover    %v  (CheckTTL %v + LockDelay %v, defaults)\n\n",
		handoff.Round(time.Millisecond), failover.Round(10*time.Millisecond), leader.DefaultCheckTTL, leader.DefaultLockDelay)
}

// stopAll stops every replica still running, gracefully.
func (d *demo) stopAll() {
	for _, r := range d.replicas {
		if r.alive() {
			_ = r.signal(syscall.SIGTERM, 20*time.Second)
		}
	}
	d.say("stopped every process the demo started")
}

func (d *demo) sleep(ctx context.Context, dur time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(dur):
		return true
	}
}
