package fxmodule

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/hashicorp/go-hclog"
	"go.uber.org/fx"

	"github.com/consulelect/consulelect/hooks"
	"github.com/consulelect/consulelect/leader"
	"github.com/consulelect/consulelect/lifecycle"
)

// Config configures the module.
type Config struct {
	// Leader is the elector's configuration (Key is required). A zero
	// StopTimeout becomes WorkerGrace + HookTimeout + 1s, so that work that
	// outlives its term is named by worker and hook.
	Leader leader.Config
	// HookTimeout bounds each hook call (default hooks.DefaultTimeout).
	HookTimeout time.Duration
	// WorkerGrace is how long workers may take to stop after a term ends
	// (default lifecycle.DefaultGrace).
	WorkerGrace time.Duration
	// WorkerPolicy says what a failing worker does: restart with backoff
	// (default) or resign the term.
	WorkerPolicy lifecycle.Policy
	// ShutdownOnPermanentError stops the app (through fx.Shutdowner, exit
	// code 1) on a permanent Consul error such as ACL denied. Off by
	// default: the elector keeps retrying slowly and reports it.
	ShutdownOnPermanentError bool
}

// Group names of the value groups the module consumes.
const (
	HookGroup   = "consulelect.hooks"
	WorkerGroup = "consulelect.workers"
)

// Module is the fx module: it provides *leader.Elector and Handlers and
// runs the elector for the app's lifetime.
var Module = fx.Module("consulelect",
	fx.Provide(New),
	fx.Invoke(func(*leader.Elector) {}), // campaign even if nothing else asks for it
)

// Params are what New consumes.
type Params struct {
	fx.In

	Lifecycle  fx.Lifecycle
	Shutdowner fx.Shutdowner
	Client     *api.Client
	Config     Config
	Logger     hclog.Logger       `optional:"true"`
	Metrics    leader.Metrics     `optional:"true"` // provide one to export the elector's measurements
	Hooks      []hooks.Hook       `group:"consulelect.hooks"`
	Workers    []lifecycle.Worker `group:"consulelect.workers"`
}

// Result is what New provides.
type Result struct {
	fx.Out

	Elector  *leader.Elector
	Handlers Handlers
}

// Handlers are the health endpoints of the elector, to mount on the app's
// HTTP server.
type Handlers struct {
	// Status reports the role as JSON, always 200.
	Status http.Handler
	// LeaderOnly answers 200 on the leader, 429 on standbys.
	LeaderOnly http.Handler
	// Liveness fails only for a zombie leader.
	Liveness http.Handler
}

// New builds the elector from the app's client, config, hooks and
// workers, and ties it to the app's lifecycle. It is what Module provides;
// call it directly only to build your own module.
func New(p Params) (Result, error) {
	log := p.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	hookList := slices.Clone(p.Hooks)
	hooks.Sort(hookList) // value groups have no order: (Order, Name) makes it stable
	runner, err := hooks.NewRunner(hookList, hookOpts(p.Config, log)...)
	if err != nil {
		return Result{}, err
	}
	for i, w := range p.Workers {
		if w == nil {
			return Result{}, fmt.Errorf("fxmodule: worker %d of group %q is nil: %w", i, WorkerGroup, lifecycle.ErrInvalidWorker)
		}
	}
	workers := slices.Clone(p.Workers)
	slices.SortStableFunc(workers, func(a, b lifecycle.Worker) int { return cmp.Compare(a.Name(), b.Name()) })
	sup, err := lifecycle.NewSupervisor(workers, supervisorOpts(p.Config, log)...)
	if err != nil {
		return Result{}, err
	}
	opts := []leader.Option{
		leader.WithLogger(log.Named("leader")),
		leader.WithLeaderFunc(func(ctx context.Context, term *leader.Term) error {
			return runner.Lead(ctx, term, sup.Run)
		}),
	}
	if p.Metrics != nil {
		opts = append(opts, leader.WithMetrics(p.Metrics))
	}
	if p.Config.ShutdownOnPermanentError {
		opts = append(opts, leader.WithErrorHandler(shutdownOnPermanent(p.Shutdowner, log)))
	}
	e, err := leader.New(p.Client, leaderConfig(p.Config), opts...)
	if err != nil {
		return Result{}, err
	}
	p.Lifecycle.Append(fx.Hook{
		OnStart: func(context.Context) error { return e.Start() },
		OnStop:  e.Stop,
	})
	return Result{Elector: e, Handlers: Handlers{
		Status: e.HealthHandler(), LeaderOnly: e.LeaderHandler(), Liveness: e.LivenessHandler(),
	}}, nil
}

// leaderConfig is the elector's config. Unless set, its StopTimeout (after
// which leader work still running is a straggler) covers the workers'
// grace and one OnDemoted hook's timeout, so that stragglers are named by
// worker and hook rather than as "leader work".
func leaderConfig(c Config) leader.Config {
	lc := c.Leader
	if lc.StopTimeout == 0 {
		grace, timeout := c.WorkerGrace, c.HookTimeout
		if grace <= 0 {
			grace = lifecycle.DefaultGrace
		}
		if timeout <= 0 {
			timeout = hooks.DefaultTimeout
		}
		lc.StopTimeout = grace + timeout + time.Second
	}
	return lc
}

func hookOpts(c Config, log hclog.Logger) []hooks.Option {
	opts := []hooks.Option{hooks.WithLogger(log.Named("hooks"))}
	if c.HookTimeout > 0 {
		opts = append(opts, hooks.WithTimeout(c.HookTimeout))
	}
	return opts
}

func supervisorOpts(c Config, log hclog.Logger) []lifecycle.Option {
	opts := []lifecycle.Option{lifecycle.WithLogger(log.Named("workers")), lifecycle.WithPolicy(c.WorkerPolicy)}
	if c.WorkerGrace > 0 {
		opts = append(opts, lifecycle.WithGrace(c.WorkerGrace))
	}
	return opts
}

// shutdownOnPermanent asks the app to stop, once, on a permanent error.
func shutdownOnPermanent(s fx.Shutdowner, log hclog.Logger) func(error) {
	var once sync.Once
	return func(err error) {
		if !leader.IsPermanent(err) {
			return
		}
		once.Do(func() {
			log.Error("permanent consul error; shutting the app down", "error", err)
			_ = s.Shutdown(fx.ExitCode(1))
		})
	}
}
