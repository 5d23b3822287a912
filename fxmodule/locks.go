package fxmodule

import (
	"context"

	"github.com/hashicorp/consul/api"
	"github.com/hashicorp/go-hclog"
	"go.uber.org/fx"

	"github.com/consulelect/consulelect/lock"
)

// Locks provides the app's *lock.Session, built with cfg on the app's
// *api.Client (and the app's hclog.Logger and lock.Metrics, if the graph
// has them; a metrics adapter's Lock(), say): one Consul session
// and check for every Mutex and Semaphore the app takes. Constructing it
// sends nothing to Consul (the session is created at the first lock), so
// the app starts while Consul is down; OnStop closes it, which cancels the
// locks still held, waits (within the stop timeout) for their holders to
// unlock, and destroys the session. A config that breaks a rule fails the
// app, naming the field.
func Locks(cfg lock.Config) fx.Option {
	return fx.Module("consulelect.locks", fx.Provide(fx.Annotate(
		func(lc fx.Lifecycle, client *api.Client, log hclog.Logger, metrics lock.Metrics) (*lock.Session, error) {
			if log != nil {
				log = log.Named("lock")
			}
			s, err := lock.NewSession(client, cfg, lock.WithLogger(log), lock.WithMetrics(metrics))
			if err != nil {
				return nil, err
			}
			lc.Append(fx.Hook{OnStop: func(ctx context.Context) error { return s.Close(ctx) }})
			return s, nil
		}, fx.ParamTags(``, ``, `optional:"true"`, `optional:"true"`))))
}
