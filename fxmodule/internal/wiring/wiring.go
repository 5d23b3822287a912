// Package wiring holds what the fx module and its test double
// (fxmodule/fxmoduletest) share: the value groups' names, the election
// name rule and the leader work built from an app's hooks and workers.
package wiring

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/consulelect/consulelect/hooks"
	"github.com/consulelect/consulelect/leader"
	"github.com/consulelect/consulelect/lifecycle"
)

// The value groups that tie elections, hooks and workers together.
const (
	ElectionsGroup = "consulelect.elections"
	WantedGroup    = "consulelect.elections.wanted"
)

// HookGroup names the value group of an election's hooks.
func HookGroup(election string) string { return "consulelect.hooks" + Suffix(election) }

// WorkerGroup names the value group of an election's workers.
func WorkerGroup(election string) string { return "consulelect.workers" + Suffix(election) }

// Suffix is what an election's name adds to its module's and groups' names.
func Suffix(name string) string {
	if name == "" {
		return ""
	}
	return "." + name
}

var electionName = regexp.MustCompile(`^[A-Za-z0-9_.-]*$`)

// CheckName refuses an election name that fx tags cannot carry.
func CheckName(name string) error {
	if !electionName.MatchString(name) {
		return fmt.Errorf("fxmodule: election name %q: use letters, digits, '_', '.' and '-'", name)
	}
	return nil
}

// CheckElections fails the app when a hook or worker names an election
// that the app does not have.
func CheckElections(have, want []string) error {
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

// Work is what an election's leader work is made of.
type Work struct {
	HookTimeout  time.Duration
	WorkerGrace  time.Duration
	WorkerPolicy lifecycle.Policy
	Hooks        []hooks.Hook
	Workers      []lifecycle.Worker
}

// LeaderFunc is an election's leader work: the hooks around the
// supervised workers, both in name order so that the order does not
// depend on the order of fx's value groups.
func LeaderFunc(w Work, log hclog.Logger) (leader.LeaderFunc, error) {
	hookList := slices.Clone(w.Hooks)
	slices.SortFunc(hookList, func(a, b hooks.Hook) int { return cmp.Compare(a.Name, b.Name) })
	for i, wk := range w.Workers {
		if wk == nil {
			return nil, fmt.Errorf("fxmodule: worker %d is nil: %w", i, lifecycle.ErrInvalidWorker)
		}
	}
	workers := slices.Clone(w.Workers)
	slices.SortStableFunc(workers, func(a, b lifecycle.Worker) int { return cmp.Compare(a.Name(), b.Name()) })
	sopts := []lifecycle.Option{lifecycle.WithLogger(log.Named("workers")), lifecycle.WithPolicy(w.WorkerPolicy)}
	if w.WorkerGrace > 0 {
		sopts = append(sopts, lifecycle.WithGrace(w.WorkerGrace))
	}
	sup, err := lifecycle.NewSupervisor(workers, sopts...)
	if err != nil {
		return nil, err
	}
	hopts := []hooks.Option{hooks.WithLogger(log.Named("hooks"))}
	if w.HookTimeout > 0 {
		hopts = append(hopts, hooks.WithTimeout(w.HookTimeout))
	}
	return hooks.LeaderFunc(hookList, sup.Run, hopts...)
}
