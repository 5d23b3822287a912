package fxmodule

import (
	"context"
	"errors"
	"strings"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/fx"

	"github.com/consulelect/consulelect/hooks"
	"github.com/consulelect/consulelect/leader"
	"github.com/consulelect/consulelect/leader/leadertest"
	"github.com/consulelect/consulelect/lifecycle"
)

// FakeElection replaces Election(name) (Module for "") in tests of an fx
// app: it builds the same leader work from the app's hooks and workers
// (AsHook, AsWorker, Hook, Worker; and Config's timeouts if the graph has a
// Config) but runs it under a *leadertest.Fake, which it provides (named
// like the election), instead of campaigning on Consul. The test elects
// and demotes with the Fake. On stop, an active term ends with
// leader.ErrStopped and its work is awaited within the stop's ctx.
func FakeElection(name string) fx.Option {
	if err := checkName(name); err != nil {
		return fx.Error(err)
	}
	named := ""
	if name != "" {
		named = `name:"` + name + `"`
	}
	build := func(lc fx.Lifecycle, cfg Config, log hclog.Logger, hookList []hooks.Hook, workers []lifecycle.Worker) (*leadertest.Fake, error) {
		if log == nil {
			log = hclog.NewNullLogger()
		}
		lead, err := leaderFunc(cfg, log, hookList, workers)
		if err != nil {
			return nil, err
		}
		f := leadertest.NewFake(cfg.Leader.Key, lead)
		lc.Append(fx.Hook{OnStop: func(ctx context.Context) error {
			if err := f.Demote(ctx, leader.ErrStopped); err != nil && !errors.Is(err, leader.ErrNotLeader) {
				return err
			}
			return nil
		}})
		return f, nil
	}
	return fx.Module("consulelect.fake"+suffix(name),
		fx.Provide(fx.Annotate(build,
			fx.ParamTags(``, strings.TrimSpace(named+` optional:"true"`), `optional:"true"`,
				`group:"`+hookGroup(name)+`"`, `group:"`+workerGroup(name)+`"`),
			fx.ResultTags(named))),
		fx.Provide(fx.Annotate(func() string { return name }, fx.ResultTags(`group:"`+electionsGroup+`"`))),
		fx.Invoke(fx.Annotate(checkElections, fx.ParamTags(`group:"`+electionsGroup+`"`, `group:"`+wantedGroup+`"`))),
	)
}
