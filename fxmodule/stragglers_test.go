package fxmodule_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/consulelect/consulelect/fxmodule"
	"github.com/consulelect/consulelect/internal/consultest"
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
	if wait := e2.Term().Started.Sub(stopped); wait < lockDelay-100*time.Millisecond {
		t.Fatalf("app2 led %v after app1 stopped: the key was released under a running worker", wait)
	}
	app2.RequireStop()
}
