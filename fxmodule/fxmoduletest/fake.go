// Package fxmoduletest helps users test an fx app that uses fxmodule:
// FakeElection runs the app's own hooks and workers under terms that the
// test starts and ends, with no Consul. Only tests import it; the fx
// module itself links no test code.
package fxmoduletest

import (
	"context"
	"errors"
	"strings"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/fx"

	"github.com/consulelect/consulelect/fxmodule"
	"github.com/consulelect/consulelect/fxmodule/internal/wiring"
	"github.com/consulelect/consulelect/hooks"
	"github.com/consulelect/consulelect/leader"
	"github.com/consulelect/consulelect/leader/leadertest"
	"github.com/consulelect/consulelect/lifecycle"
)

// FakeElection replaces fxmodule.Election(name) (fxmodule.Module for "")
// in tests of an fx app: it builds the same leader work from the app's
// hooks and workers (fxmodule.AsHook, AsWorker, Hook, Worker; and the
// Config's timeouts if the graph has an fxmodule.Config) but runs it under
// a *leadertest.Fake, which it provides (named like the election), instead
// of campaigning on Consul. The test elects and demotes with the Fake. On
// stop, an active term ends with leader.ErrStopped and its work is awaited
// within the stop's ctx.
func FakeElection(name string) fx.Option {
	if err := wiring.CheckName(name); err != nil {
		return fx.Error(err)
	}
	named := ""
	if name != "" {
		named = `name:"` + name + `"`
	}
	build := func(lc fx.Lifecycle, cfg fxmodule.Config, log hclog.Logger, hookList []hooks.Hook, workers []lifecycle.Worker) (*leadertest.Fake, error) {
		if log == nil {
			log = hclog.NewNullLogger()
		}
		lead, err := wiring.LeaderFunc(wiring.Work{HookTimeout: cfg.HookTimeout, WorkerGrace: cfg.WorkerGrace,
			WorkerPolicy: cfg.WorkerPolicy, Hooks: hookList, Workers: workers}, log)
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
	return fx.Module("consulelect.fake"+wiring.Suffix(name),
		fx.Provide(fx.Annotate(build,
			fx.ParamTags(``, strings.TrimSpace(named+` optional:"true"`), `optional:"true"`,
				`group:"`+wiring.HookGroup(name)+`"`, `group:"`+wiring.WorkerGroup(name)+`"`),
			fx.ResultTags(named))),
		fx.Provide(fx.Annotate(func() string { return name }, fx.ResultTags(`group:"`+wiring.ElectionsGroup+`"`))),
		fx.Invoke(fx.Annotate(wiring.CheckElections, fx.ParamTags(`group:"`+wiring.ElectionsGroup+`"`, `group:"`+wiring.WantedGroup+`"`))),
	)
}
