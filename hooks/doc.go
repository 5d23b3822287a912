// Package hooks runs the OnElected and OnDemoted hooks that services
// register, around the leader work of one term.
//
// A Runner holds the hooks in a fixed order and runs one term at a time
// with Lead, which is meant to be (part of) the elector's leader function:
//
//	runner, err := hooks.NewRunner(hs, hooks.WithLogger(log))
//	...
//	leader.WithLeaderFunc(runner.LeaderFunc(supervisor.Run))
//
// # Order
//
// Hooks run one at a time, never concurrently. OnElected runs by ascending
// Order, ties in registration order (the order of the slice given to
// NewRunner); OnDemoted runs in the reverse of that order. Callers whose
// collection order is random, such as fx value groups, call Sort first:
// it orders by Order, then Name, so the order is the same on every run.
//
// # Pairing
//
// OnDemoted runs exactly once per term for each hook whose OnElected ran
// and succeeded in that term (a hook without OnElected counts as
// succeeded when its turn came), and for no other. It runs however the
// term ends: leadership lost, resigned, the elector stopped
// (leader.ErrStopped), a later hook failed, or the body failed. Its reason
// is context.Cause of the term's ctx once the term is over, or else the
// error that made Lead give the term up.
//
// # Failures
//
// An OnElected fails when it returns an error, panics, or is still running
// at its deadline (the Runner's timeout after it was called) — whatever it
// returns then: its ctx was done, so it cannot know that its work is
// complete, and it is expected to undo what it did before returning. A
// failed OnElected gets no OnDemoted. On a failure Lead runs no further
// OnElected, runs OnDemoted for the hooks that had succeeded, and returns
// an error that wraps ErrHookFailed and names the hook (and wraps
// ErrHookTimeout for an overrun, ErrPanic for a panic), so that the elector
// gives the term up. A panic in OnElected, OnDemoted or the body is
// recovered and logged with its stack; it never crashes the process. A
// panicking OnDemoted does not keep the remaining ones from running.
//
// If the term ends before or while OnElected hooks run, Lead stops running
// them (a hook that is running sees its ctx done), does not run the body,
// and pairs OnDemoted for the hooks that had succeeded.
//
// If the body returns an error while the term lasts, Lead runs OnDemoted
// with that error as reason and returns the error unchanged (so an error
// with a Stragglers() []string method, such as the lifecycle supervisor's,
// still reaches the elector). If the body returns nil, Lead keeps leading
// and waits for the term to end before running OnDemoted.
//
// # Timeouts
//
// Every hook call gets a ctx whose deadline is the Runner's timeout
// (DefaultTimeout unless WithTimeout). A hook still running at its
// deadline is logged (Warn, keys "hook", "phase", "timeout") and then
// waited for anyway: Lead never runs OnDemoted while an OnElected still
// runs, and never returns while a hook runs, because the elector releases
// the key as soon as its leader function returns. OnElected's ctx is a
// child of the term's ctx; OnDemoted's is not (the term is usually over by
// then): it is context.WithoutCancel of the term's ctx, so it keeps its
// values, bounded by the timeout.
//
// Goroutines: each hook call runs in a goroutine of the Runner, which Lead
// always waits for; no goroutine of the Runner outlives Lead.
package hooks
