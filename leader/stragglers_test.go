package leader_test

import (
	"context"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/leader"
)

// Leader work that ignores its context after its term ended keeps the key
// (a successor must not act beside it), but the process is declared
// unhealthy: StopTimeout after the term ended, liveness answers 503, and
// Status and metrics name the work. When the work returns at last, the
// key is released, the names are cleared, and the successor leads at once.
func TestStragglersFailLivenessAndKeepTheKey(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	const key = "svc/stragglers"
	unblock := make(chan struct{})
	released := false
	t.Cleanup(func() {
		if !released {
			close(unblock)
		}
	})
	stubborn := func(ctx context.Context, _ *leader.Term) error { <-unblock; return nil }
	rec := &recorder{}
	cfg := cfgFor(key, "stuck")
	cfg.StopTimeout = 500 * time.Millisecond
	e1 := startElector(t, client, cfg, leader.WithLeaderFunc(stubborn), leader.WithMetrics(rec.metrics()))
	waitFor(t, 10*time.Second, "e1 to lead", e1.IsLeader)
	e2 := startElector(t, client, cfgFor(key, "successor"))
	waitFor(t, 5*time.Second, "e2 to follow", func() bool { return e2.Status().Leader != nil })
	if code, _ := get(t, e1.Handlers().Liveness); code != 200 {
		t.Fatalf("liveness of a healthy leader: %d", code)
	}

	term := e1.Term()
	go func() { _ = e1.Resign(context.Background()) }() // returns once the key is released
	waitFor(t, 5*time.Second, "the term to end", func() bool { return term.Context().Err() != nil })
	waitFor(t, cfg.StopTimeout+2*time.Second, "liveness to fail", func() bool {
		code, _ := get(t, e1.Handlers().Liveness)
		return code == 503
	})
	unhealthyAfter := time.Since(term.Ended())
	t.Logf("liveness 503 %v after the term ended (StopTimeout %v)", unhealthyAfter, cfg.StopTimeout)
	if unhealthyAfter < cfg.StopTimeout {
		t.Errorf("liveness failed %v after the term ended, before StopTimeout", unhealthyAfter)
	}
	if st := e1.Status(); !slices.Equal(st.Stragglers, []string{"leader work"}) || st.Role == leader.RoleLeader {
		t.Errorf("status: role %v, stragglers %v; want follower with [leader work]", st.Role, st.Stragglers)
	}
	if code, body := get(t, e1.Handlers().Status); code != 200 || !strings.Contains(body, `"stragglers":["leader work"]`) {
		t.Errorf("status JSON %d %s lacks the straggler", code, body)
	}
	waitFor(t, time.Second, "metrics to name the straggler", rec.read(func(r *recorder) bool {
		return len(r.stuck) == 1 && slices.Equal(r.stuck[0], []string{"leader work"})
	}))
	// The key stays held by e1's session, whose check still passes.
	h, err := leader.Lookup(context.Background(), client, key)
	if err != nil || h == nil || h.ID != "stuck" || h.Session != term.Session() {
		t.Fatalf("holder while the work is stuck: %+v, %v; want e1's session", h, err)
	}
	if e2.IsLeader() {
		t.Fatal("the successor leads while the old leader's work still runs")
	}

	close(unblock)
	released = true
	returned := time.Now()
	waitFor(t, 5*time.Second, "e2 to lead", e2.IsLeader)
	t.Logf("successor led %v after the stuck work returned", e2.Term().Started().Sub(returned))
	if got := e2.Term().Started().Sub(returned); got > e2.Config().LockDelay/2 {
		t.Errorf("successor led %v after the work returned: the key was not released", got)
	}
	if code, _ := get(t, e1.Handlers().Liveness); code != 200 {
		t.Errorf("liveness after the work returned: %d", code)
	}
	if st := e1.Status(); len(st.Stragglers) != 0 {
		t.Errorf("stragglers not cleared: %v", st.Stragglers)
	}
	waitFor(t, time.Second, "metrics to clear the straggler", rec.read(func(r *recorder) bool {
		return len(r.stuck) == 2 && r.stuck[1] == nil
	}))
}

// With ExitOnStragglers, a process whose leader work is stuck after its
// term ended destroys its session and exits; another replica leads
// LockDelay later. The candidate process's leader work ignores its ctx,
// and SIGUSR1 makes it resign.
func TestExitOnStragglers(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	const key = "svc/exit-on-stragglers"
	stuck := startCandidate(t, srv.HTTPAddr, "-key", key, "-id", "stuck", "-stuck",
		"-exit-on-stragglers", "-stop-timeout", "500ms")
	stuck.waitLine(t, "elected", 10*time.Second)
	e := startElector(t, srv.Client(t), cfgFor(key, "successor"))
	waitFor(t, 5*time.Second, "the successor to follow", func() bool { return e.Status().Leader != nil })

	resigned := time.Now()
	stuck.signal(t, syscall.SIGUSR1)
	select {
	case <-stuck.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the stuck candidate did not exit")
	}
	exited := time.Now()
	if code := stuck.cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	waitFor(t, e.Config().LockDelay+5*time.Second, "the successor to lead", e.IsLeader)
	t.Logf("resign→exit %v, exit→successor %v", exited.Sub(resigned), e.Term().Started().Sub(exited))
	if wait := e.Term().Started().Sub(exited); wait < e.Config().LockDelay-200*time.Millisecond {
		t.Errorf("successor led %v after the exit: Consul's lock-delay was not in force", wait)
	}
	if exited.Sub(resigned) < 500*time.Millisecond {
		t.Errorf("exited %v after the resign, before StopTimeout", exited.Sub(resigned))
	}
}
