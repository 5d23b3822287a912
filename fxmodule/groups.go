package fxmodule

import (
	"go.uber.org/fx"

	"github.com/consulelect/consulelect/hooks"
	"github.com/consulelect/consulelect/lifecycle"
)

// hookGroup and workerGroup name the value groups an election consumes.
func hookGroup(election string) string   { return "consulelect.hooks" + suffix(election) }
func workerGroup(election string) string { return "consulelect.workers" + suffix(election) }

// AsWorker annotates a constructor whose result implements
// lifecycle.Worker so that its worker joins the leader-only workers of the
// default election, or of the one named by election:
//
//	fx.Provide(fxmodule.AsWorker(NewScheduler))
//	fx.Provide(fxmodule.AsWorker(NewCompactor, "shard-7"))
func AsWorker(constructor any, election ...string) any {
	return fx.Annotate(constructor, fx.As(new(lifecycle.Worker)), fx.ResultTags(`group:"`+workerGroup(first(election))+`"`))
}

// AsHook annotates a constructor that returns a hooks.Hook so that it
// joins the hooks of the default election, or of the one named by
// election.
func AsHook(constructor any, election ...string) any {
	return fx.Annotate(constructor, fx.ResultTags(`group:"`+hookGroup(first(election))+`"`))
}

// Worker contributes a ready-made worker to the default election, or to
// the one named by election.
func Worker(w lifecycle.Worker, election ...string) fx.Option {
	return fx.Provide(AsWorker(func() lifecycle.Worker { return w }, election...))
}

// Hook contributes a ready-made hook to the default election, or to the
// one named by election.
func Hook(h hooks.Hook, election ...string) fx.Option {
	return fx.Provide(AsHook(func() hooks.Hook { return h }, election...))
}

func first(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return names[0]
}
