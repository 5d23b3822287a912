package hooks

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/consulelect/consulelect/leader"
)

// A runner runs a fixed set of hooks around the leader work of each term.
// Its Lead may be called for one term after another, and is safe for
// concurrent use (each call runs its own term).
type runner struct {
	hooks   []Hook // in OnElected order
	timeout time.Duration
	log     hclog.Logger
}

// LeaderFunc returns the elector's leader function for hooks around body:
// for each term, the OnElected hooks in order, then body until it returns
// (nil body: nothing), then, once the term is over, the paired OnDemoted
// hooks in reverse order; see the package doc for the rules. body is
// typically a lifecycle Supervisor's Run:
//
//	sup, err := lifecycle.NewSupervisor(workers)
//	lead, err := hooks.LeaderFunc(hs, sup.Run)
//	e, err := leader.New(client, cfg, leader.WithLeaderFunc(lead))
//
// Hooks run by ascending Order, ties in the order given. LeaderFunc
// refuses a hook with an empty or duplicate name with an error that wraps
// ErrInvalidHook, and a non-positive timeout with one that wraps
// ErrInvalidOption.
func LeaderFunc(hooks []Hook, body func(ctx context.Context) error, opts ...Option) (leader.LeaderFunc, error) {
	if err := validate(hooks); err != nil {
		return nil, err
	}
	r := &runner{hooks: slices.Clone(hooks), timeout: DefaultTimeout, log: hclog.NewNullLogger()}
	for _, o := range opts {
		o(r)
	}
	if r.timeout <= 0 {
		return nil, fmt.Errorf("%w: timeout (%s) must be positive", ErrInvalidOption, r.timeout)
	}
	slices.SortStableFunc(r.hooks, func(a, b Hook) int { return cmp.Compare(a.Order, b.Order) })
	return func(ctx context.Context, term *leader.Term) error {
		if term == nil { // the elector never passes nil; hooks must not see it
			term = &leader.Term{}
		}
		return r.Lead(ctx, term, body)
	}, nil
}

// Lead runs one term: the OnElected hooks in order, then body until it
// returns (nil body: nothing), then, once the term is over, the paired
// OnDemoted hooks in reverse order; see the package doc for the rules.
//
// ctx must be the term's context (the ctx the elector passes to its leader
// function): its end is the term's end. The reason given to OnDemoted is
// term.Reason() (context.Cause(ctx) for a term that is not the elector's);
// Lead calls no other method of term, and hands it to the hooks as is.
//
// Lead returns when that sequence is over, with nil, the body's error
// unchanged, or an error wrapping ErrHookFailed. If a hook is still
// running at its deadline, Lead returns at that deadline instead, with an
// error that wraps ErrHookTimeout and has Stragglers and Done methods, and
// finishes the sequence in the background (see Timeouts in the package
// doc).
func (r *runner) Lead(ctx context.Context, term *leader.Term, body func(ctx context.Context) error) error {
	n, l, err := r.elect(ctx, term)
	if err == nil {
		err = r.lead(ctx, body)
	}
	reason := err
	if reason == nil || ctx.Err() != nil {
		reason = termReason(ctx, term)
	}
	d := &demotion{ctx: context.WithoutCancel(ctx), term: term, reason: reason, n: n}
	if l != nil { // a late OnElected: err reports it
		return r.detach(l, d, err)
	}
	l, lateErr := r.demote(d)
	if l != nil {
		return r.detach(l, d, err, lateErr)
	}
	return err
}

// elect runs OnElected in order until one fails or the term ends. It
// returns how many hooks succeeded (a prefix of r.hooks) and, if the one
// that failed is still running, its late call.
func (r *runner) elect(ctx context.Context, term *leader.Term) (int, *late, error) {
	for i, h := range r.hooks {
		if ctx.Err() != nil {
			return i, nil, nil
		}
		if h.OnElected == nil {
			continue
		}
		onElected := h.OnElected
		l, err := r.call(ctx, h.Name, "OnElected", func(ctx context.Context) error { return onElected(ctx, term) })
		if err != nil {
			return i, l, fmt.Errorf("%w: OnElected of %q: %w", ErrHookFailed, h.Name, err)
		}
	}
	return len(r.hooks), nil, nil
}

// lead runs body, if any and if the term lasts; if body returns nil it
// waits for the term to end.
func (r *runner) lead(ctx context.Context, body func(ctx context.Context) error) error {
	if ctx.Err() != nil {
		return nil
	}
	if body != nil {
		if err := r.protect("", "body", func() error { return body(ctx) }); err != nil {
			return err
		}
	}
	<-ctx.Done()
	return nil
}

// A demotion is what remains of a term's OnDemoted calls: those of the
// first n hooks, in reverse order.
type demotion struct {
	ctx    context.Context // context.WithoutCancel of the term's ctx
	term   *leader.Term
	reason error
	n      int
}

// demote runs the remaining OnDemoted calls of d in reverse order. If one
// is still running at its deadline, it stops there and returns its late
// call and an error wrapping ErrHookTimeout that names it; d then holds
// the calls that remain after it.
func (r *runner) demote(d *demotion) (*late, error) {
	for d.n > 0 {
		d.n--
		h := r.hooks[d.n]
		if h.OnDemoted == nil {
			continue
		}
		onDemoted := h.OnDemoted
		l, _ := r.call(d.ctx, h.Name, "OnDemoted", func(ctx context.Context) error {
			onDemoted(ctx, d.term, d.reason)
			return nil
		}) // a panic is logged by call; there is no one to return it to
		if l != nil {
			return l, fmt.Errorf("%w: OnDemoted of %q after %s", ErrHookTimeout, h.Name, r.timeout)
		}
	}
	return nil, nil
}

// termReason is why the term ended: term.Reason(), which tells how a lost
// lock was lost (its context's cause is only consulelect.ErrLockLost), or the
// cause of ctx without a term.
func termReason(ctx context.Context, term *leader.Term) error {
	if term != nil {
		if r := term.Reason(); r != nil {
			return r
		}
	}
	return context.Cause(ctx)
}
