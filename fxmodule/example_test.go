package fxmodule_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"time"

	"go.uber.org/fx"

	"github.com/consulelect/consulelect/fxmodule"
	"github.com/consulelect/consulelect/hooks"
	"github.com/consulelect/consulelect/leader"
	"github.com/consulelect/consulelect/lifecycle"
	"github.com/consulelect/consulelect/lock"
	"github.com/hashicorp/consul/api"
)

// A service adds the module, a leader-only worker and a hook; fx starts
// the campaign with the app and gives leadership up when it stops.
func Example() {
	working := make(chan struct{})
	app := fx.New(
		fx.Provide(func() (*api.Client, error) { return api.NewClient(api.DefaultConfig()) }), // from CONSUL_HTTP_ADDR and friends
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

// runScheduler is the quick start's leader-only work.
func runScheduler(ctx context.Context) error {
	<-ctx.Done() // schedule jobs until the term ends
	return nil
}

// The README's fx quick start (between the readme markers): the module,
// a worker, a hook, and the health endpoints on the app's mux.
func Example_quickStart() {
	var e *leader.Elector          // readme:hide
	served := make(chan string, 1) // readme:hide
	// readme:begin fx-quick-start
	app := fx.New(
		fx.Provide(func() (*api.Client, error) { return api.NewClient(api.DefaultConfig()) }), // or your own *api.Client
		fx.Provide(http.NewServeMux), // the mux your HTTP server serves
		fx.Supply(fxmodule.Config{Leader: leader.Config{Key: "my-service/leader"}}),
		fxmodule.Module,
		fxmodule.Worker(lifecycle.WorkerFunc("scheduler", runScheduler)), // runs only on the leader
		fxmodule.Hook(hooks.Hook{
			Name: "announce",
			OnElected: func(ctx context.Context, t *leader.Term) error {
				log.Printf("leading, token %d", t.Token())
				return nil
			},
			OnDemoted: func(ctx context.Context, t *leader.Term, reason error) { log.Printf("demoted: %v", reason) },
		}),
		fx.Invoke(func(mux *http.ServeMux, h leader.Handlers) {
			mux.Handle("/role", h.Status)
			mux.Handle("/leader", h.LeaderOnly)
			mux.Handle("/healthz", h.Liveness)
		}),
		fx.Invoke(func(lc fx.Lifecycle, mux *http.ServeMux) { // serve the mux (your service may already)
			srv := &http.Server{Handler: mux}
			lc.Append(fx.Hook{
				OnStart: func(context.Context) error {
					ln, err := net.Listen("tcp", "127.0.0.1:0") // your service's address, e.g. ":8080"
					if err != nil {
						return err
					}
					go srv.Serve(ln)
					served <- ln.Addr().String() // readme:hide
					return nil
				},
				OnStop: srv.Shutdown,
			})
		}),
		fx.Populate(&e), // readme:hide
		fx.NopLogger,    // readme:hide
	)
	// readme:end
	if err := app.Start(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	for !e.IsLeader() {
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Println("leading:", e.IsLeader())
	if resp, err := http.Get("http://" + <-served + "/leader"); err == nil {
		fmt.Println("GET /leader:", resp.StatusCode) // the endpoints are served
		resp.Body.Close()
	}
	if err := app.Stop(context.Background()); err != nil {
		fmt.Println(err)
	}
	fmt.Println("stopped:", e.Status().Role)
	// Output:
	// leading: true
	// GET /leader: 200
	// stopped: stopped
}

// A service takes locks for its critical sections from the app's shared
// lock session.
func ExampleLocks() {
	// readme:begin fx-locks
	app := fx.New(
		fx.Provide(func() (*api.Client, error) { return api.NewClient(api.DefaultConfig()) }),
		fxmodule.Locks(lock.Config{}), // provides the app's *lock.Session
		fx.Invoke(func(lc fx.Lifecycle, s *lock.Session) {
			lc.Append(fx.Hook{OnStart: func(ctx context.Context) error {
				return s.Do(ctx, "billing/charge-42", func(ctx context.Context, token uint64) error {
					fmt.Println("charging once, token", token > 0)
					return nil
				})
			}})
		}),
		fx.NopLogger, // readme:hide
	)
	// readme:end
	if err := app.Start(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	if err := app.Stop(context.Background()); err != nil {
		fmt.Println(err)
	}
	// Output: charging once, token true
}
