package fxmodule

import (
	"go.uber.org/fx"

	"github.com/consulelect/consulelect/hooks"
	"github.com/consulelect/consulelect/lifecycle"
)

// AsWorker annotates a constructor whose result implements
// lifecycle.Worker so that its worker joins the leader-only workers:
//
//	fx.Provide(fxmodule.AsWorker(NewScheduler))
func AsWorker(constructor any) any {
	return fx.Annotate(constructor, fx.As(new(lifecycle.Worker)), fx.ResultTags(`group:"`+WorkerGroup+`"`))
}

// AsHook annotates a constructor that returns a hooks.Hook so that it
// joins the election hooks.
func AsHook(constructor any) any {
	return fx.Annotate(constructor, fx.ResultTags(`group:"`+HookGroup+`"`))
}

// Worker contributes a ready-made worker.
func Worker(w lifecycle.Worker) fx.Option {
	return fx.Provide(fx.Annotate(func() lifecycle.Worker { return w }, fx.ResultTags(`group:"`+WorkerGroup+`"`)))
}

// Hook contributes a ready-made hook.
func Hook(h hooks.Hook) fx.Option {
	return fx.Provide(fx.Annotate(func() hooks.Hook { return h }, fx.ResultTags(`group:"`+HookGroup+`"`)))
}
