package fxmodule

import (
	"fmt"

	"go.uber.org/fx"

	"github.com/consulelect/consulelect/fxmodule/internal/wiring"
	"github.com/consulelect/consulelect/hooks"
	"github.com/consulelect/consulelect/lifecycle"
)

// election is the one election name of a contribution ("" for the
// default), or an error for more than one or an invalid one.
func election(names []string) (string, error) {
	switch len(names) {
	case 0:
		return "", nil
	case 1:
		return names[0], wiring.CheckName(names[0])
	default:
		return "", fmt.Errorf("fxmodule: one election name at most, got %q", names)
	}
}

// AsWorker annotates a constructor whose result implements
// lifecycle.Worker so that its worker joins the leader-only workers of the
// default election, or of the one named by election:
//
//	fx.Provide(fxmodule.AsWorker(NewScheduler))
//	fx.Provide(fxmodule.AsWorker(NewCompactor, "shard-7"))
//
// Prefer Worker for a ready-made worker: it also checks that the election
// exists.
func AsWorker(constructor any, election ...string) any {
	name := first(election)
	return fx.Annotate(constructor, fx.As(new(lifecycle.Worker)), fx.ResultTags(`group:"`+wiring.WorkerGroup(name)+`"`))
}

// AsHook annotates a constructor that returns a hooks.Hook so that it
// joins the hooks of the default election, or of the one named by
// election.
func AsHook(constructor any, election ...string) any {
	return fx.Annotate(constructor, fx.ResultTags(`group:"`+wiring.HookGroup(first(election))+`"`))
}

// Worker contributes a ready-made worker to the default election, or to
// the one named by election; the app fails to start if no Election has
// that name.
func Worker(w lifecycle.Worker, names ...string) fx.Option {
	name, err := election(names)
	if err != nil {
		return fx.Error(err)
	}
	return fx.Options(fx.Provide(AsWorker(func() lifecycle.Worker { return w }, name)), wanted(name))
}

// Hook contributes a ready-made hook to the default election, or to the
// one named by election; the app fails to start if no Election has that
// name.
func Hook(h hooks.Hook, names ...string) fx.Option {
	name, err := election(names)
	if err != nil {
		return fx.Error(err)
	}
	return fx.Options(fx.Provide(AsHook(func() hooks.Hook { return h }, name)), wanted(name))
}

// wanted records that a contribution names election.
func wanted(election string) fx.Option {
	return fx.Provide(fx.Annotate(func() string { return election }, fx.ResultTags(`group:"`+wiring.WantedGroup+`"`)))
}

func first(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return names[0]
}
