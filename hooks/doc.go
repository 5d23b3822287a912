// Package hooks runs the OnElected and OnDemoted hooks that services
// register, around the leader work of one term.
//
// LeaderFunc turns hooks and a body (the leader-only work, typically a
// lifecycle Supervisor's Run) into the elector's leader function, which
// runs one term per call:
//
//	sup, err := lifecycle.NewSupervisor(workers, lifecycle.WithLogger(log))
//	lead, err := hooks.LeaderFunc(hs, sup.Run, hooks.WithLogger(log))
//	e, err := leader.New(client, cfg, leader.WithLogger(log), leader.WithLeaderFunc(lead))
//
// Below, "Lead" is one call of that leader function: one term.
//
// # Order
//
// Hooks run one at a time, never concurrently. OnElected runs by ascending
// Order, ties in registration order (the order of the slice given to
// LeaderFunc); OnDemoted runs in the reverse of that order. Callers whose
// collection order is random, such as fx value groups, sort the slice by
// Name first (fxmodule does), so the order is the same on every run.
//
// # Pairing
//
// OnDemoted runs exactly once per term for each hook whose OnElected ran
// and succeeded in that term (a hook without OnElected counts as
// succeeded when its turn came), and for no other. It runs however the
// term ends: leadership lost, resigned, the elector stopped
// (leader.ErrStopped), a later hook failed, or the body failed. Its reason
// is term.Reason() once the term is over (context.Cause of the ctx for a
// term that is not the elector's), or else the error that made Lead give
// the term up.
//
// # Failures
//
// An OnElected fails when it returns an error, panics, or is still running
// at its deadline (the runner's timeout after it was called) — whatever it
// returns then: its ctx was done, so it cannot know that its work is
// complete, and it is expected to undo what it did before returning. A
// failed OnElected gets no OnDemoted. On a failure Lead runs no further
// OnElected, runs OnDemoted for the hooks that had succeeded, and returns
// an error that wraps ErrHookFailed and names the hook (and wraps
// ErrHookTimeout for an overrun, ErrPanic for a panic), so that the elector
// gives the term up; after an overrun it returns first and runs those
// OnDemoted in the background (see Timeouts). A panic in OnElected, OnDemoted or the body is
// recovered and logged with its stack; it never crashes the process. A
// panicking OnDemoted does not keep the remaining ones from running.
//
// If the term ends before or while OnElected hooks run, Lead stops running
// them (a hook that is running sees its ctx done), does not run the body,
// and pairs OnDemoted for the hooks that had succeeded.
//
// If the body returns an error while the term lasts, Lead runs OnDemoted
// with that error as reason and returns the error unchanged, so that a
// stragglers error (below), such as the lifecycle supervisor's, still
// reaches the elector with its Done. If the body returns nil, Lead keeps
// leading and waits for the term to end before running OnDemoted.
//
// # Stragglers
//
// The elector must not release its key while any leader work of the term
// still runs. Leader work may therefore return before all of its parts
// have returned only with an error that implements
//
//	interface { error; Stragglers() []string; Done() <-chan struct{} }
//
// (errors.As finds it): Stragglers names what still runs, and Done is
// closed once all of it has returned. The elector keeps the key and its
// session until Done is closed. Lead returns such an error in two cases:
// the body returned one (it is returned unchanged, unless a hook overruns
// as well), or a hook overran (see Timeouts).
//
// # Timeouts
//
// Every hook call gets a ctx whose deadline is the runner's timeout
// (DefaultTimeout unless WithTimeout) after the call. OnElected's ctx is a
// child of the term's ctx; OnDemoted's is not (the term is usually over by
// then): it is context.WithoutCancel of the term's ctx, so it keeps its
// values, bounded by the timeout.
//
// Lead waits for a hook up to its deadline and no longer. A hook still
// running then is logged (Warn, "hook still running after its timeout",
// keys "hook", "phase", "timeout"), and Lead returns at once with an error
// that wraps ErrHookTimeout (and ErrHookFailed, if it is an OnElected),
// names the hook, wraps the error Lead would have returned otherwise (the
// body's, if any), and implements the stragglers interface above:
//
//   - Stragglers: `hook "name" OnElected` or `hook "name" OnDemoted`,
//     then the Stragglers of the body's error if it implements the
//     interface; a snapshot taken when Lead returned.
//   - Done: closed once the rest of the term has finished in the
//     background, in this order: the overrunning hook returned (logged,
//     Warn, "hook returned after its timeout", with its error if any);
//     then the remaining paired OnDemoted calls ran, in reverse order, one
//     at a time, each bounded by the timeout as above (one that overruns
//     in turn is logged and waited for before the next); then the Done of
//     the body's stragglers error, if any, was closed.
//
// The rules of Order and Pairing hold in the background as in Lead: an
// overrunning OnElected gets no OnDemoted, and the OnDemoted of the hooks
// before it run only after it returned; no two hooks of a term run at
// once. An elector that waits for Done before its next term (as package
// leader's does) therefore never runs hooks of two terms at once.
//
// # Goroutines
//
// Each hook call runs in a goroutine of the runner. Lead waits for each of
// them, except for an overrunning hook: its goroutine, one goroutine that
// finishes the term (it waits for the hook, runs the remaining OnDemoted
// calls, each in a goroutine of its own, and waits for the body's Done),
// and those OnDemoted goroutines outlive Lead. All of them have ended when
// Done is closed: the finishing goroutine closes it as its last act, after
// every other has returned. A hook that never returns keeps its goroutine,
// the finishing goroutine, and Done open, forever. No other goroutine of
// the runner outlives Lead.
package hooks
