// Package fxmodule wires consulelect into an fx application in one line:
//
//	fx.New(
//		fx.Provide(fxmodule.NewConsulClient), // or your own *api.Client
//		fx.Supply(fxmodule.Config{Leader: leader.Config{Key: "svc/leader"}}),
//		fxmodule.Module,
//		fx.Provide(fxmodule.AsWorker(NewScheduler)),
//	)
//
// The module consumes the app's *api.Client, a Config and an optional
// hclog.Logger; it does not provide what it does not own. It provides the
// *leader.Elector and the health Handlers. Any module can contribute hooks
// (AsHook, Hook) and leader-only workers (AsWorker, Worker) through value
// groups.
//
// OnStart only schedules the campaign: the app starts even while Consul is
// down, and Status reports it. OnStop gives leadership up in order (term
// cancelled, hooks' OnDemoted, workers awaited, key released, session
// destroyed) within the app's stop timeout.
package fxmodule
