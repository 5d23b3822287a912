package fxmodule_test

import (
	"context"
	"fmt"

	"go.uber.org/fx"

	"github.com/consulelect/consulelect/fxmodule"
	"github.com/consulelect/consulelect/hooks"
	"github.com/consulelect/consulelect/leader"
	"github.com/consulelect/consulelect/lifecycle"
)

// A service adds the module, a leader-only worker and a hook; fx starts
// the campaign with the app and gives leadership up when it stops.
func Example() {
	working := make(chan struct{})
	app := fx.New(
		fx.Provide(fxmodule.NewConsulClient), // from CONSUL_HTTP_ADDR and friends
		fx.Supply(fxmodule.Config{Leader: leader.Config{Key: "example/fx-leader", Identity: "replica-1"}}),
		fxmodule.Module,
		fxmodule.Worker(lifecycle.WorkerFunc("scheduler", func(ctx context.Context) error {
			fmt.Println("scheduler: running on the leader")
			close(working)
			<-ctx.Done()
			fmt.Println("scheduler: stopped")
			return nil
		})),
		fxmodule.Hook(hooks.Hook{
			Name:      "announce",
			OnElected: func(context.Context, *leader.Term) error { fmt.Println("hook: elected"); return nil },
			OnDemoted: func(_ context.Context, _ *leader.Term, reason error) { fmt.Println("hook: demoted:", reason) },
		}),
		fx.NopLogger,
	)
	if err := app.Start(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	<-working
	if err := app.Stop(context.Background()); err != nil {
		fmt.Println(err)
	}
	// Output:
	// hook: elected
	// scheduler: running on the leader
	// scheduler: stopped
	// hook: demoted: leader: elector stopped
}
