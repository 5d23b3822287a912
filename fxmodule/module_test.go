package fxmodule_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/fxmodule"
	"github.com/consulelect/consulelect/hooks"
	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/leader"
	"github.com/consulelect/consulelect/lifecycle"
)

// probe is a worker and a hook that record what happened to them.
type probe struct {
	mu        sync.Mutex
	running   bool
	runs      int
	stoppedAt time.Time
	demoted   []error
	slowStop  time.Duration
}

func (p *probe) worker() lifecycle.Worker {
	return lifecycle.WorkerFunc("probe", func(ctx context.Context) error {
		p.mu.Lock()
		p.running, p.runs = true, p.runs+1
		p.mu.Unlock()
		<-ctx.Done()
		time.Sleep(p.slowStop) // a worker that takes a moment to flush
		p.mu.Lock()
		p.running, p.stoppedAt = false, time.Now()
		p.mu.Unlock()
		return nil
	})
}

func (p *probe) hook() hooks.Hook {
	return hooks.Hook{Name: "probe", OnDemoted: func(_ context.Context, _ *leader.Term, reason error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.demoted = append(p.demoted, reason)
	}}
}

func (p *probe) isRunning() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.running
}

func newApp(t *testing.T, client *api.Client, key, id string, p *probe, e **leader.Elector, extra ...fx.Option) *fxtest.App {
	return fxtest.New(t, append([]fx.Option{
		fx.Supply(client),
		fx.Supply(fxmodule.Config{Leader: leader.Config{Key: key, Identity: id}}),
		fxmodule.Module,
		fxmodule.Worker(p.worker()),
		fxmodule.Hook(p.hook()),
		fx.Populate(e),
		fx.NopLogger,
	}, extra...)...)
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	consultest.WaitFor(t, timeout, what, cond)
}

// The app starts while Consul is down and reports it; once Consul is up it
// elects, runs the worker; losing the session demotes within one round trip
// (the worker's ctx is cancelled, OnDemoted runs with the reason); the app
// then leads again with a new term, and stops cleanly.
func TestAppLifecycle(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	srv.Kill(t)
	p := &probe{}
	var e *leader.Elector
	app := newApp(t, client, "svc/fx", "app1", p, &e)
	started := time.Now()
	app.RequireStart()
	if took := time.Since(started); took > time.Second {
		t.Fatalf("OnStart blocked %v while Consul is down", took)
	}
	waitFor(t, 5*time.Second, "the outage to be reported", func() bool { return e.Status().LastError != nil })

	srv.Restart(t)
	waitFor(t, 15*time.Second, "leadership", e.IsLeader)
	waitFor(t, 2*time.Second, "the worker", p.isRunning)

	term := e.Term()
	destroyed := time.Now()
	if _, err := client.Session().Destroy(term.Session(), nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, e.Config().ConfirmInterval, "the worker to stop within one round trip", func() bool { return !p.isRunning() })
	t.Logf("worker stopped %v after the session was destroyed", time.Since(destroyed))
	waitFor(t, time.Second, "OnDemoted", func() bool { p.mu.Lock(); defer p.mu.Unlock(); return len(p.demoted) > 0 })
	p.mu.Lock()
	if len(p.demoted) != 1 || !errors.Is(p.demoted[0], consulelect.ErrSessionInvalidated) {
		t.Errorf("OnDemoted reasons %v, want one ErrSessionInvalidated", p.demoted)
	}
	p.mu.Unlock()
	waitFor(t, 10*time.Second, "a new term", func() bool { nt := e.Term(); return nt != nil && nt.Token() > term.Token() })
	waitFor(t, 2*time.Second, "the worker again", p.isRunning)
	app.RequireStop()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.running || p.runs != 2 || len(p.demoted) != 2 || !errors.Is(p.demoted[1], leader.ErrStopped) {
		t.Errorf("after stop: running %v, runs %d, demoted %v", p.running, p.runs, p.demoted)
	}
}

// On stop, the workers are awaited before the key is released: the other
// replica leads only after the slow worker returned, and promptly after.
func TestStopWaitsForWorkersBeforeRelease(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	p1, p2 := &probe{slowStop: 300 * time.Millisecond}, &probe{}
	var e1, e2 *leader.Elector
	app1 := newApp(t, client, "svc/fx-stop", "app1", p1, &e1)
	app1.RequireStart()
	waitFor(t, 10*time.Second, "app1 to lead", e1.IsLeader)
	app2 := newApp(t, client, "svc/fx-stop", "app2", p2, &e2)
	app2.RequireStart()
	waitFor(t, 5*time.Second, "app2 to follow", func() bool { return e2.Status().Leader != nil })
	app1.RequireStop()
	waitFor(t, e2.Config().LockDelay, "app2 to lead", e2.IsLeader)
	p1.mu.Lock()
	stopped := p1.stoppedAt
	p1.mu.Unlock()
	if gap := e2.Term().Started().Sub(stopped); gap < 0 || gap >= e2.Config().LockDelay {
		t.Fatalf("app2 led %v after app1's worker stopped; want in [0, LockDelay)", gap)
	}
	app2.RequireStop()
}

// With ShutdownOnPermanentError, a permanent Consul error (ACL denied)
// shuts the app down with exit code 1.
func TestShutdownOnPermanentError(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{ACL: true})
	cfg := srv.Config()
	cfg.Token = "" // anonymous, default deny
	client, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var e *leader.Elector
	app := fxtest.New(t,
		fx.Supply(client),
		fx.Supply(fxmodule.Config{Leader: leader.Config{Key: "svc/denied"}, ShutdownOnPermanentError: true}),
		fxmodule.Module,
		fx.Populate(&e),
		fx.NopLogger,
	)
	app.RequireStart()
	select {
	case sig := <-app.Wait():
		if sig.ExitCode != 1 {
			t.Errorf("exit code %d, want 1", sig.ExitCode)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no shutdown on a permanent error")
	}
	app.RequireStop()
}

// counting counts started and ended terms.
type counting struct {
	mu             sync.Mutex
	started, ended int
}

func (c *counting) TermStarted(string, uint64) { c.mu.Lock(); c.started++; c.mu.Unlock() }

func (c *counting) TermEnded(string, error, time.Duration) { c.mu.Lock(); c.ended++; c.mu.Unlock() }

// A leader.Metrics in the app's graph receives the elector's measurements.
func TestMetricsFromTheGraph(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	m := &counting{}
	var e *leader.Elector
	app := newApp(t, srv.Client(t), "svc/fx-metrics", "measured", &probe{}, &e,
		fx.Supply(leader.Metrics{TermStarted: m.TermStarted, TermEnded: m.TermEnded}))
	app.RequireStart()
	waitFor(t, 10*time.Second, "leadership", e.IsLeader)
	app.RequireStop()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.started != 1 || m.ended != 1 {
		t.Errorf("metrics saw %d started and %d ended terms, want 1 and 1", m.started, m.ended)
	}
}

// One app, two elections on two keys, each with its own config, worker
// and hook, told apart by name; the elector and handlers of each are
// named values of the graph.
func TestTwoElectionsInOneApp(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	pa, pb := &probe{}, &probe{}
	var in struct {
		fx.In
		A  *leader.Elector `name:"a"`
		B  *leader.Elector `name:"b"`
		HA leader.Handlers `name:"a"`
	}
	app := fxtest.New(t,
		fx.Supply(srv.Client(t)),
		fx.Supply(fx.Annotate(fxmodule.Config{Leader: leader.Config{Key: "svc/fx-two/a", Identity: "app"}}, fx.ResultTags(`name:"a"`))),
		fx.Supply(fx.Annotate(fxmodule.Config{Leader: leader.Config{Key: "svc/fx-two/b", Identity: "app"}}, fx.ResultTags(`name:"b"`))),
		fxmodule.Election("a"),
		fxmodule.Election("b"),
		fxmodule.Worker(pa.worker(), "a"),
		fxmodule.Hook(pa.hook(), "a"),
		fxmodule.Worker(pb.worker(), "b"),
		fxmodule.Hook(pb.hook(), "b"),
		fx.Populate(&in),
		fx.NopLogger,
	)
	app.RequireStart()
	waitFor(t, 10*time.Second, "both to lead", func() bool { return in.A.IsLeader() && in.B.IsLeader() })
	waitFor(t, 2*time.Second, "both workers", func() bool { return pa.isRunning() && pb.isRunning() })
	if in.A.Config().Key != "svc/fx-two/a" || in.B.Config().Key != "svc/fx-two/b" {
		t.Fatalf("keys %q and %q", in.A.Config().Key, in.B.Config().Key)
	}
	if code := liveness(in.HA); code != 200 {
		t.Errorf("election a's liveness: %d", code)
	}
	if err := in.B.Resign(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "b's hook demoted", func() bool { pb.mu.Lock(); defer pb.mu.Unlock(); return len(pb.demoted) == 1 })
	pa.mu.Lock()
	if len(pa.demoted) != 0 || !in.A.IsLeader() {
		t.Errorf("resigning b touched a: demoted %v, leading %v", pa.demoted, in.A.IsLeader())
	}
	pa.mu.Unlock()
	app.RequireStop()
}

// A hook or worker given with an election name that no Election has, or
// with a name fx tags cannot carry, fails the app at construction instead
// of never running.
func TestElectionNamesAreChecked(t *testing.T) {
	client, err := api.NewClient(api.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	cfg := fx.Supply(fx.Annotate(fxmodule.Config{Leader: leader.Config{Key: "k"}}, fx.ResultTags(`name:"a"`)))
	for _, tt := range []struct {
		name string
		opt  fx.Option
		want string
	}{
		{"unknown election", fxmodule.Worker(lifecycle.WorkerFunc("w", func(context.Context) error { return nil }), "shard-A"), `"shard-A"`},
		{"two names", fxmodule.Hook(hooks.Hook{Name: "h"}, "a", "b"), "one election name"},
		{"bad name", fxmodule.Election(`x"y`), "election name"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			app := fx.New(fx.Supply(client), cfg, fxmodule.Election("a"), tt.opt, fx.NopLogger)
			if err := app.Err(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("app error %v, want one naming %s", err, tt.want)
			}
		})
	}
}
