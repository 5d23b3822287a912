package fxmodule

import (
	"fmt"
	"regexp"

	"go.uber.org/fx"

	"github.com/consulelect/consulelect/hooks"
	"github.com/consulelect/consulelect/lifecycle"
)

// hookGroup and workerGroup name the value groups an election consumes.
func hookGroup(election string) string   { return "consulelect.hooks" + suffix(election) }
func workerGroup(election string) string { return "consulelect.workers" + suffix(election) }

// Value groups that let every Election check that the contributions given
// with an election name (Worker, Hook) name an election of the app.
const (
	electionsGroup = "consulelect.elections"
	wantedGroup    = "consulelect.elections.wanted"
)

// electionName is what an election name may be: it becomes part of fx
// value-group names and struct tags.
var electionName = regexp.MustCompile(`^[A-Za-z0-9_.-]*$`)

// checkName refuses an election name fx tags cannot carry.
func checkName(name string) error {
	if !electionName.MatchString(name) {
		return fmt.Errorf("fxmodule: election name %q: use letters, digits, '_', '.' and '-'", name)
	}
	return nil
}

// election is the one election name of a contribution ("" for the
// default), or an error for more than one or an invalid one.
func election(names []string) (string, error) {
	switch len(names) {
	case 0:
		return "", nil
	case 1:
		return names[0], checkName(names[0])
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
	return fx.Annotate(constructor, fx.As(new(lifecycle.Worker)), fx.ResultTags(`group:"`+workerGroup(name)+`"`))
}

// AsHook annotates a constructor that returns a hooks.Hook so that it
// joins the hooks of the default election, or of the one named by
// election.
func AsHook(constructor any, election ...string) any {
	return fx.Annotate(constructor, fx.ResultTags(`group:"`+hookGroup(first(election))+`"`))
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
	return fx.Provide(fx.Annotate(func() string { return election }, fx.ResultTags(`group:"`+wantedGroup+`"`)))
}

// checkElections fails when a contribution names an election the app does
// not have.
func checkElections(have, want []string) error {
	known := make(map[string]bool, len(have))
	for _, n := range have {
		known[n] = true
	}
	for _, n := range want {
		if !known[n] {
			return fmt.Errorf("fxmodule: a hook or worker names election %q, but the app has no fxmodule.Election(%q)", n, n)
		}
	}
	return nil
}

func first(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return names[0]
}
