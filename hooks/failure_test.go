package hooks_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/hooks"
	"github.com/consulelect/consulelect/leader"
)

func TestLeadPanics(t *testing.T) {
	tests := []struct {
		name    string
		panicIn string // "elected" or "demoted"
		want    []string
		wantErr error
	}{
		{
			name:    "in OnElected",
			panicIn: "elected",
			want:    []string{"elected a", "demoted a"},
			wantErr: hooks.ErrHookFailed,
		},
		{
			name:    "in OnDemoted",
			panicIn: "demoted",
			want:    []string{"elected a", "elected p", "elected c", "demoted c", "demoted a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec recorder
			p := hooks.Hook{
				Name: "p",
				OnElected: func(context.Context, *leader.Term) error {
					if tt.panicIn == "elected" {
						panic("kaboom")
					}
					rec.add("elected p")
					return nil
				},
				OnDemoted: func(context.Context, *leader.Term, error) { panic("kaboom") },
			}
			log, logs := testLogger()
			r := newRunner(t, []hooks.Hook{rec.hook("a", 0, nil), p, rec.hook("c", 0, nil)}, hooks.WithLogger(log))
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			err := r.Lead(ctx, testTerm(), endTerm(cancel, leader.ErrStopped))
			if got := rec.get(); !slices.Equal(got, tt.want) {
				t.Errorf("calls = %q; want %q", got, tt.want)
			}
			if tt.wantErr == nil && err != nil {
				t.Errorf("Lead: %v", err)
			}
			if tt.wantErr != nil && (!errors.Is(err, tt.wantErr) || !errors.Is(err, hooks.ErrPanic) || !strings.Contains(err.Error(), `"p"`)) {
				t.Errorf("Lead error = %v; want %v and ErrPanic naming \"p\"", err, tt.wantErr)
			}
			out := logs.String()
			for _, want := range []string{`"hook":"p"`, `"panic":"kaboom"`, `"stack":`, `"@level":"error"`} {
				if !strings.Contains(out, want) {
					t.Errorf("log lacks %s:\n%s", want, out)
				}
			}
		})
	}
}

func TestLeadTermEnds(t *testing.T) {
	tests := []struct {
		name string
		// b is the middle hook's OnElected; cancel ends the term.
		b       func(ctx context.Context, cancel context.CancelCauseFunc) error
		before  bool // end the term before Lead
		want    []string
		wantErr error
	}{
		{
			name:   "before Lead",
			before: true,
			b:      func(context.Context, context.CancelCauseFunc) error { return nil },
			want:   nil,
		},
		{
			name: "during a hook that succeeds",
			b: func(_ context.Context, cancel context.CancelCauseFunc) error {
				cancel(consulelect.ErrKeyTaken)
				return nil
			},
			want: []string{"elected a", "elected b", "demoted b", "demoted a"},
		},
		{
			name: "during a hook that then fails",
			b: func(ctx context.Context, cancel context.CancelCauseFunc) error {
				cancel(consulelect.ErrKeyTaken)
				<-ctx.Done()
				return ctx.Err()
			},
			want:    []string{"elected a", "elected b", "demoted a"},
			wantErr: hooks.ErrHookFailed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				rec     recorder
				reasons []error
			)
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			b := rec.hook("b", 0, nil)
			b.OnElected = func(ctx context.Context, _ *leader.Term) error {
				rec.add("elected b")
				return tt.b(ctx, cancel)
			}
			hs := []hooks.Hook{rec.hook("a", 0, nil), b, rec.hook("c", 0, nil)}
			for i := range hs {
				onDemoted := hs[i].OnDemoted
				hs[i].OnDemoted = func(ctx context.Context, term *leader.Term, reason error) {
					reasons = append(reasons, reason) // hooks run one at a time
					onDemoted(ctx, term, reason)
				}
			}
			if tt.before {
				cancel(consulelect.ErrKeyTaken)
			}
			body := func(context.Context) error {
				t.Error("body ran after the term ended")
				return nil
			}
			err := newRunner(t, hs).Lead(ctx, testTerm(), body)
			if got := rec.get(); !slices.Equal(got, tt.want) {
				t.Errorf("calls = %q; want %q", got, tt.want)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Lead error = %v; want %v", err, tt.wantErr)
			}
			for _, r := range reasons {
				if !errors.Is(r, consulelect.ErrKeyTaken) {
					t.Errorf("OnDemoted reason = %v; want %v", r, consulelect.ErrKeyTaken)
				}
			}
		})
	}
}

func TestLeadBody(t *testing.T) {
	boom := errors.New("boom")
	left := &stragglersError{names: []string{"indexer"}, done: make(chan struct{})} // never closed: Lead must not wait for it
	tests := []struct {
		name       string
		body       func(ctx context.Context, cancel context.CancelCauseFunc) error
		wantErr    error
		wantReason error
	}{
		{
			name:       "nil body waits for the term",
			body:       nil,
			wantReason: leader.ErrStopped,
		},
		{
			name:       "nil return keeps leading until the term ends",
			body:       func(context.Context, context.CancelCauseFunc) error { return nil },
			wantReason: leader.ErrStopped,
		},
		{
			name:       "error while the term lasts",
			body:       func(context.Context, context.CancelCauseFunc) error { return boom },
			wantErr:    boom,
			wantReason: boom,
		},
		{
			name: "error after the term ended",
			body: func(ctx context.Context, cancel context.CancelCauseFunc) error {
				cancel(consulelect.ErrSessionInvalidated)
				return boom
			},
			wantErr:    boom,
			wantReason: consulelect.ErrSessionInvalidated,
		},
		{
			name: "stragglers error passes through, Done and all",
			body: func(ctx context.Context, cancel context.CancelCauseFunc) error {
				cancel(leader.ErrStopped)
				return left
			},
			wantErr:    left,
			wantReason: leader.ErrStopped,
		},
		{
			name:       "panic",
			body:       func(context.Context, context.CancelCauseFunc) error { panic("kaboom") },
			wantErr:    hooks.ErrPanic,
			wantReason: hooks.ErrPanic,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				rec    recorder
				reason error
				ended  atomic.Bool
			)
			ready := make(chan struct{}) // closed when Lead should be waiting for the term to end
			h := rec.hook("a", 0, nil)
			h.OnDemoted = func(_ context.Context, _ *leader.Term, r error) {
				rec.add("demoted a")
				reason = r
			}
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			var body func(context.Context) error
			if tt.body == nil {
				h.OnElected = func(context.Context, *leader.Term) error { close(ready); return nil }
			} else {
				body = func(ctx context.Context) error {
					defer close(ready)
					rec.add("body")
					return tt.body(ctx, cancel)
				}
			}
			if tt.wantErr == nil {
				// The term ends when the test says so; Lead must wait for it.
				ender := make(chan struct{})
				go func() {
					defer close(ender)
					<-ready
					ended.Store(true)
					cancel(leader.ErrStopped)
				}()
				defer func() { <-ender }()
			}
			err := newRunner(t, []hooks.Hook{h}).Lead(ctx, testTerm(), body)
			if tt.wantErr == nil && !ended.Load() {
				t.Error("Lead returned before the term ended")
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Lead error = %v; want %v", err, tt.wantErr)
			}
			var s stragglers
			if tt.wantErr == left && (!errors.As(err, &s) || s != left || s.Done() != left.done) {
				t.Errorf("Lead error = %v; want the stragglers error unchanged, with its Done", err)
			}
			if !errors.Is(reason, tt.wantReason) {
				t.Errorf("OnDemoted reason = %v; want %v", reason, tt.wantReason)
			}
			if got := rec.get(); got[len(got)-1] != "demoted a" || slices.Index(got, "demoted a") != len(got)-1 {
				t.Errorf("calls = %q; want one OnDemoted, last", got)
			}
		})
	}
}
