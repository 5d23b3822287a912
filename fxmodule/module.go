package fxmodule

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/hashicorp/go-hclog"
	"go.uber.org/fx"

	"github.com/consulelect/consulelect/fxmodule/internal/wiring"
	"github.com/consulelect/consulelect/hooks"
	"github.com/consulelect/consulelect/leader"
	"github.com/consulelect/consulelect/lifecycle"
)

// Config configures one election.
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

// Module is the app's default election: Election("").
var Module = Election("")

// Election returns the fx module of one election. It consumes the app's
// *api.Client, an optional hclog.Logger and an optional leader.Metrics,
// the election's Config, hooks and workers, and provides the election's
// *leader.Elector and leader.Handlers; it runs the elector for the app's
// lifetime. An app may hold several elections, each on its own key:
//
//   - Election("") (Module) takes the unnamed Config and the hooks and
//     workers given without an election name, and provides the unnamed
//     *leader.Elector and leader.Handlers.
//   - Election(name) takes the Config named name (fx.Annotate(cfg,
//     fx.ResultTags(`name:"<name>"`)) in fx.Supply) and the hooks and
//     workers given with that election name (Worker(w, name), AsHook(f,
//     name), ...), and provides *leader.Elector and leader.Handlers named
//     name (`name:"<name>"` in a parameter's tag).
func Election(name string) fx.Option {
	if err := wiring.CheckName(name); err != nil {
		return fx.Error(err)
	}
	named := ""
	if name != "" {
		named = `name:"` + name + `"`
	}
	build := func(lc fx.Lifecycle, sd fx.Shutdowner, client *api.Client, c Config, log hclog.Logger,
		metrics leader.Metrics, hookList []hooks.Hook, workers []lifecycle.Worker) (*leader.Elector, leader.Handlers, error) {
		if log != nil && name != "" {
			log = log.With("election", name)
		}
		return newElection(lc, sd, client, c, log, metrics, hookList, workers)
	}
	return fx.Module("consulelect"+wiring.Suffix(name),
		fx.Provide(fx.Annotate(build,
			fx.ParamTags(``, ``, ``, named, `optional:"true"`, `optional:"true"`,
				`group:"`+wiring.HookGroup(name)+`"`, `group:"`+wiring.WorkerGroup(name)+`"`),
			fx.ResultTags(named, named))),
		fx.Provide(fx.Annotate(func() string { return name }, fx.ResultTags(`group:"`+wiring.ElectionsGroup+`"`))),
		fx.Invoke(fx.Annotate(wiring.CheckElections, fx.ParamTags(`group:"`+wiring.ElectionsGroup+`"`, `group:"`+wiring.WantedGroup+`"`))),
		fx.Invoke(fx.Annotate(func(*leader.Elector) {}, fx.ParamTags(named))), // campaign even if nothing asks for it
	)
}

// newElection builds one election's elector from the app's client and
// the election's config, hooks and workers, and ties it to the app's
// lifecycle.
func newElection(lc fx.Lifecycle, sd fx.Shutdowner, client *api.Client, c Config, log hclog.Logger,
	metrics leader.Metrics, hookList []hooks.Hook, workers []lifecycle.Worker) (*leader.Elector, leader.Handlers, error) {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	lead, err := wiring.LeaderFunc(wiring.Work{HookTimeout: c.HookTimeout, WorkerGrace: c.WorkerGrace,
		WorkerPolicy: c.WorkerPolicy, Hooks: hookList, Workers: workers}, log)
	if err != nil {
		return nil, leader.Handlers{}, err
	}
	if c.ShutdownOnPermanentError {
		metrics.ConsulError = shutdownOnPermanent(metrics.ConsulError, sd, log)
	}
	e, err := leader.New(client, leaderConfig(c), leader.WithLogger(log.Named("leader")),
		leader.WithLeaderFunc(lead), leader.WithMetrics(metrics))
	if err != nil {
		return nil, leader.Handlers{}, err
	}
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error { return e.Start() },
		OnStop:  e.Stop,
	})
	return e, e.Handlers(), nil
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

// shutdownOnPermanent wraps a ConsulError metric (next, may be nil) so
// that a permanent error also asks the app to stop, once.
func shutdownOnPermanent(next func(string, error, bool), s fx.Shutdowner, log hclog.Logger) func(string, error, bool) {
	var once sync.Once
	return func(key string, err error, permanent bool) {
		if next != nil {
			next(key, err, permanent)
		}
		if !permanent {
			return
		}
		once.Do(func() {
			log.Error("permanent consul error; shutting the app down", "key", key, "error", err)
			_ = s.Shutdown(fx.ExitCode(1))
		})
	}
}
