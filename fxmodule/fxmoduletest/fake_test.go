package fxmoduletest_test

import (
	"context"
	"fmt"
	"log"
	"sync"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/fxmodule"
	"github.com/consulelect/consulelect/fxmodule/fxmoduletest"
	"github.com/consulelect/consulelect/hooks"
	"github.com/consulelect/consulelect/leader"
	"github.com/consulelect/consulelect/leader/leadertest"
	"github.com/consulelect/consulelect/lifecycle"
)

// In a test of an fx app, FakeElection takes the election's place: the
// app's own workers and hooks run when the test elects, and stop when it
// demotes; no Consul is needed.
func ExampleFakeElection() {
	var fake *leadertest.Fake
	// readme:begin fx-fake
	app := fx.New(
		fx.Supply(fxmodule.Config{Leader: leader.Config{Key: "my-service/leader"}}),
		fxmoduletest.FakeElection(""), // instead of fxmodule.Module
		fxmodule.Worker(lifecycle.WorkerFunc("scheduler", func(ctx context.Context) error {
			fmt.Println("scheduler: running")
			<-ctx.Done()
			fmt.Println("scheduler: stopped")
			return nil
		})),
		fx.Populate(&fake),
		fx.NopLogger, // readme:hide
	)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		log.Fatal(err)
	}
	if _, err := fake.Elect(); err != nil {
		log.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // readme:hide: let the worker start
	if err := fake.Demote(ctx, consulelect.ErrLockLost); err != nil {
		log.Fatal(err) // the workers did not stop
	}
	// readme:end
	if err := app.Stop(ctx); err != nil {
		log.Fatal(err)
	}

	// Output:
	// scheduler: running
	// scheduler: stopped
}

// A named FakeElection runs the hooks and workers of that election only;
// stopping the app ends an active term (ErrStopped) and awaits its work.
func TestFakeElectionNamedAndStop(t *testing.T) {
	var fake *leadertest.Fake
	var events []string
	var mu sync.Mutex
	note := func(s string) { mu.Lock(); events = append(events, s); mu.Unlock() }
	app := fx.New(
		fx.Supply(fx.Annotate(fxmodule.Config{Leader: leader.Config{Key: "svc/fake-named"}}, fx.ResultTags(`name:"shard"`))),
		fxmoduletest.FakeElection("shard"),
		fxmodule.Worker(lifecycle.WorkerFunc("w", func(ctx context.Context) error {
			note("run")
			<-ctx.Done()
			note("stop: " + context.Cause(ctx).Error())
			return nil
		}), "shard"),
		fxmodule.Hook(hooks.Hook{Name: "h", OnElected: func(context.Context, *leader.Term) error { note("elected"); return nil }}, "shard"),
		fx.Populate(fx.Annotate(&fake, fx.ParamTags(`name:"shard"`))),
		fx.NopLogger,
	)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	term, err := fake.Elect()
	if err != nil || term.Key() != "svc/fake-named" {
		t.Fatalf("Elect: %v", err)
	}
	time.Sleep(50 * time.Millisecond)
	if err := app.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 3 || events[0] != "elected" || events[1] != "run" || events[2] != "stop: "+leader.ErrStopped.Error() {
		t.Errorf("events %q", events)
	}
}
