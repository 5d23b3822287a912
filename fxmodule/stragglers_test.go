package fxmodule_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/consulelect/consulelect/fxmodule"
	"github.com/consulelect/consulelect/hooks"
	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/leader"
	"github.com/consulelect/consulelect/lifecycle"
)

// A worker that ignores its ctx is named in Status.Stragglers after the
// grace period, and the key is not released under it: when the app's stop
// timeout ends first, Stop reports ErrLeaderWorkRunning and the other
// replica leads only after Consul's lock-delay.
func TestStragglerIsNamedAndKeyNotReleased(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	unblock := make(chan struct{})
	t.Cleanup(func() { close(unblock) })
	var e1, e2 *leader.Elector
	app1 := fxtest.New(t,
		fx.Supply(client),
		fx.Supply(fxmodule.Config{Leader: leader.Config{Key: "svc/fx-straggler", Identity: "app1"}, WorkerGrace: 100 * time.Millisecond}),
		fxmodule.Module,
		fxmodule.Worker(lifecycle.WorkerFunc("stubborn", func(context.Context) error { <-unblock; return nil })),
		fx.Populate(&e1),
		fx.NopLogger,
	)
	app1.RequireStart()
	waitFor(t, 10*time.Second, "app1 to lead", e1.IsLeader)
	app2 := newApp(t, client, "svc/fx-straggler", "app2", &probe{}, &e2)
	app2.RequireStart()
	waitFor(t, 5*time.Second, "app2 to follow", func() bool { return e2.Status().Leader != nil })

	// The worker's grace ends within the stop timeout; the elector then
	// waits for the straggler as long as the stop allows, and does not
	// release the key under it.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := app1.Stop(ctx) // fx may answer for the elector: the stop timed out
	if !errors.Is(err, leader.ErrLeaderWorkRunning) && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop: %v, want ErrLeaderWorkRunning or the stop's deadline", err)
	}
	stopped := time.Now()
	waitFor(t, time.Second, "the straggler named", func() bool {
		got := e1.Status().Stragglers
		return len(got) == 1 && got[0] == "stubborn"
	})
	lockDelay := e2.Config().LockDelay
	waitFor(t, lockDelay+5*time.Second, "app2 to lead", e2.IsLeader)
	if wait := e2.Term().Started().Sub(stopped); wait < lockDelay-100*time.Millisecond {
		t.Fatalf("app2 led %v after app1 stopped: the key was released under a running worker", wait)
	}
	app2.RequireStop()
}

// A worker and an OnDemoted hook that both ignore their ctx, after a
// resign: the worker is named after WorkerGrace, the hook after
// HookTimeout; liveness fails, the key stays held (the other replica does
// not lead), and once both return the key is released, the names are
// cleared, liveness passes, and the other replica leads at once.
func TestStuckWorkerAndHookFailLiveness(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	releaseWorker, releaseHook := make(chan struct{}), make(chan struct{})
	var once1, once2 sync.Once
	t.Cleanup(func() { once1.Do(func() { close(releaseWorker) }); once2.Do(func() { close(releaseHook) }) })
	var e1, e2 *leader.Elector
	var h1 leader.Handlers
	const grace = 200 * time.Millisecond
	app1 := fxtest.New(t,
		fx.Supply(client),
		fx.Supply(fxmodule.Config{Leader: leader.Config{Key: "svc/fx-stuck", Identity: "app1"},
			WorkerGrace: grace, HookTimeout: grace}),
		fxmodule.Module,
		fxmodule.Worker(lifecycle.WorkerFunc("stubborn", func(context.Context) error { <-releaseWorker; return nil })),
		fxmodule.Hook(hooks.Hook{Name: "sticky", OnDemoted: func(context.Context, *leader.Term, error) { <-releaseHook }}),
		fx.Populate(&e1, &h1),
		fx.NopLogger,
	)
	app1.RequireStart()
	waitFor(t, 10*time.Second, "app1 to lead", e1.IsLeader)
	app2 := newApp(t, client, "svc/fx-stuck", "app2", &probe{}, &e2)
	app2.RequireStart()
	waitFor(t, 5*time.Second, "app2 to follow", func() bool { return e2.Status().Leader != nil })

	resigned := time.Now()
	go func() { _ = e1.Resign(context.Background()) }()
	waitFor(t, 2*grace+2*time.Second, "liveness to fail", func() bool { return liveness(h1) == 503 })
	t.Logf("liveness 503 %v after the resign (worker grace %v, then hook timeout %v)", time.Since(resigned), grace, grace)
	want := []string{`hook "sticky" OnDemoted`, "stubborn"}
	waitFor(t, time.Second, "both named", func() bool {
		got := e1.Status().Stragglers
		return len(got) == 2 && got[0] == want[0] && got[1] == want[1]
	})
	if e2.IsLeader() {
		t.Fatal("app2 leads while app1's work still runs")
	}
	once1.Do(func() { close(releaseWorker) })
	if liveness(h1) != 503 || e2.IsLeader() {
		t.Fatal("the hook still runs: liveness must fail and the key stay held")
	}
	once2.Do(func() { close(releaseHook) })
	returned := time.Now()
	waitFor(t, 5*time.Second, "app2 to lead", e2.IsLeader)
	t.Logf("app2 led %v after the last stuck part returned", e2.Term().Started().Sub(returned))
	if got := e2.Term().Started().Sub(returned); got > e2.Config().LockDelay/2 {
		t.Errorf("app2 led %v after the work returned: the key was not released", got)
	}
	waitFor(t, time.Second, "liveness to pass again", func() bool { return liveness(h1) == 200 && len(e1.Status().Stragglers) == 0 })
	app2.RequireStop()
	app1.RequireStop()
}

func liveness(h leader.Handlers) int {
	rec := httptest.NewRecorder()
	h.Liveness.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	return rec.Code
}
