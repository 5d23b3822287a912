// Package fxmodule wires consulelect into an fx application in one line:
//
//	fx.New(
//		fx.Provide(func() (*api.Client, error) { return api.NewClient(api.DefaultConfig()) }), // or your own *api.Client
//		fx.Supply(fxmodule.Config{Leader: leader.Config{Key: "svc/leader"}}),
//		fxmodule.Module,
//		fx.Provide(fxmodule.AsWorker(NewScheduler)),
//	)
//
// The module consumes the app's *api.Client, a Config, and optionally an
// hclog.Logger (consulelect.FromSlog adapts a *slog.Logger) and a
// leader.Metrics; it does not provide what it does not
// own. It provides the *leader.Elector and its leader.Handlers. Any module
// can contribute hooks (AsHook, Hook) and leader-only workers (AsWorker,
// Worker) through value groups. An app can hold several elections, each
// on its own key with its own hooks and workers: Election(name) takes the
// Config named name and the hooks and workers given with that name, and
// provides the elector and handlers named name; Module is Election("").
// Names are letters, digits, '_', '.' and '-'; a Hook or Worker that names
// an election the app does not have fails the app at construction, and the
// election's logs carry its name (key "election").
//
// Locks(cfg) provides the app's *lock.Session (one Consul session and check
// for all of the app's mutexes and semaphores), closed on OnStop.
//
// OnStart only schedules the campaign: the app starts even while Consul is
// down, and Status reports it. OnStop gives leadership up in order: the
// term is cancelled, the workers are awaited (up to Config.WorkerGrace),
// the hooks' OnDemoted run, the key is released and the session destroyed,
// all within the app's stop timeout. Work still running when that timeout
// ends is named in Status.Stragglers and keeps the key: it is not
// released, and the successor waits for Consul's lock-delay.
package fxmodule
