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

// A Runner runs a fixed set of hooks around the leader work of each term.
// Its Lead may be called for one term after another, and is safe for
// concurrent use (each call runs its own term).
type Runner struct {
	hooks   []Hook // in OnElected order
	timeout time.Duration
	log     hclog.Logger
}

// NewRunner returns a Runner for hooks, ordered by Order with ties in the
// order given (see Sort). It refuses a hook with an empty or duplicate name
// with an error that wraps ErrInvalidHook, and a non-positive timeout with
// one that wraps ErrInvalidOption.
func NewRunner(hooks []Hook, opts ...Option) (*Runner, error) {
	if err := validate(hooks); err != nil {
		return nil, err
	}
	r := &Runner{hooks: slices.Clone(hooks), timeout: DefaultTimeout, log: hclog.NewNullLogger()}
	for _, o := range opts {
		o(r)
	}
	if r.timeout <= 0 {
		return nil, fmt.Errorf("%w: timeout (%s) must be positive", ErrInvalidOption, r.timeout)
	}
	slices.SortStableFunc(r.hooks, func(a, b Hook) int { return cmp.Compare(a.Order, b.Order) })
	return r, nil
}

// Lead runs one term: the OnElected hooks in order, then body until it
// returns (nil body: nothing), then, once the term is over, the paired
// OnDemoted hooks in reverse order; see the package doc for the rules.
//
// ctx must be the term's context (the ctx the elector passes to its leader
// function): its end is the term's end and context.Cause(ctx) the reason.
// Lead does not call term's methods; it hands term to the hooks as is.
//
// Lead returns after every hook it started has returned. Its error is nil,
// the body's error unchanged, or an error wrapping ErrHookFailed.
func (r *Runner) Lead(ctx context.Context, term *leader.Term, body func(ctx context.Context) error) error {
	n, err := r.elect(ctx, term)
	if err == nil {
		err = r.lead(ctx, body)
	}
	reason := err
	if reason == nil || ctx.Err() != nil {
		reason = context.Cause(ctx)
	}
	r.demote(ctx, term, n, reason)
	return err
}

// LeaderFunc returns a leader function that runs each term with Lead and
// body.
func (r *Runner) LeaderFunc(body func(ctx context.Context) error) leader.LeaderFunc {
	return func(ctx context.Context, term *leader.Term) error { return r.Lead(ctx, term, body) }
}

// elect runs OnElected in order until one fails or the term ends. It
// returns how many hooks succeeded (a prefix of r.hooks).
func (r *Runner) elect(ctx context.Context, term *leader.Term) (int, error) {
	for i, h := range r.hooks {
		if ctx.Err() != nil {
			return i, nil
		}
		if h.OnElected == nil {
			continue
		}
		onElected := h.OnElected
		err := r.call(ctx, h.Name, "OnElected", func(ctx context.Context) error { return onElected(ctx, term) })
		if err != nil {
			return i, fmt.Errorf("%w: OnElected of %q: %w", ErrHookFailed, h.Name, err)
		}
	}
	return len(r.hooks), nil
}

// lead runs body, if any and if the term lasts; if body returns nil it
// waits for the term to end.
func (r *Runner) lead(ctx context.Context, body func(ctx context.Context) error) error {
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

// demote runs OnDemoted of the first n hooks, in reverse order.
func (r *Runner) demote(ctx context.Context, term *leader.Term, n int, reason error) {
	base := context.WithoutCancel(ctx)
	for i := n - 1; i >= 0; i-- {
		h := r.hooks[i]
		if h.OnDemoted == nil {
			continue
		}
		onDemoted := h.OnDemoted
		_ = r.call(base, h.Name, "OnDemoted", func(ctx context.Context) error {
			onDemoted(ctx, term, reason)
			return nil
		}) // a panic or overrun is logged by call; there is no one to return it to
	}
}
