package hooks_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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

// slowHook ignores its ctx: it returns half a timeout after its ctx is
// done, and records in returned that it has.
func slowHook(rec *recorder, name string, timeout time.Duration, returned *atomic.Bool) hooks.Hook {
	slow := func(ctx context.Context) {
		<-ctx.Done()
		time.Sleep(timeout / 2) // simulates a hook that is slow to notice; not synchronisation
		returned.Store(true)
	}
	return hooks.Hook{
		Name: name,
		OnElected: func(ctx context.Context, _ *leader.Term) error {
			rec.add("elected %s", name)
			slow(ctx)
			rec.add("elected %s returned", name)
			return nil
		},
		OnDemoted: func(ctx context.Context, _ *leader.Term, _ error) {
			rec.add("demoted %s", name)
			slow(ctx)
			rec.add("demoted %s returned", name)
		},
	}
}

func TestLeadTimeouts(t *testing.T) {
	const timeout = 50 * time.Millisecond
	tests := []struct {
		name    string
		slowIn  string // "elected" or "demoted"
		want    []string
		wantErr bool
	}{
		{
			name:    "OnElected overruns: failed, waited for, not paired",
			slowIn:  "elected",
			want:    []string{"elected a", "elected s", "elected s returned", "demoted a"},
			wantErr: true,
		},
		{
			name:   "OnDemoted overruns: waited for before the next",
			slowIn: "demoted",
			want:   []string{"elected a", "elected s", "demoted s", "demoted s returned", "demoted a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				rec      recorder
				returned atomic.Bool
			)
			s := slowHook(&rec, "s", timeout, &returned)
			if tt.slowIn == "elected" {
				s.OnDemoted = func(context.Context, *leader.Term, error) { rec.add("demoted s") }
			} else {
				s.OnElected = func(context.Context, *leader.Term) error { rec.add("elected s"); return nil }
			}
			log, logs := testLogger()
			r := newRunner(t, []hooks.Hook{rec.hook("a", 0, nil), s}, hooks.WithTimeout(timeout), hooks.WithLogger(log))
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			err := r.Lead(ctx, testTerm(), endTerm(cancel, leader.ErrStopped))
			if !returned.Load() {
				t.Error("Lead returned while a hook still ran")
			}
			if got := rec.get(); !slices.Equal(got, tt.want) {
				t.Errorf("calls = %q; want %q", got, tt.want)
			}
			if tt.wantErr {
				if !errors.Is(err, hooks.ErrHookFailed) || !errors.Is(err, hooks.ErrHookTimeout) || !strings.Contains(err.Error(), `"s"`) {
					t.Errorf("Lead error = %v; want ErrHookFailed and ErrHookTimeout naming \"s\"", err)
				}
			} else if err != nil {
				t.Errorf("Lead: %v", err)
			}
			out := logs.String()
			for _, want := range []string{`"hook":"s"`, `"timeout":`, `"@level":"warn"`} {
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
				cancel(leader.ErrKeyTaken)
				return nil
			},
			want: []string{"elected a", "elected b", "demoted b", "demoted a"},
		},
		{
			name: "during a hook that then fails",
			b: func(ctx context.Context, cancel context.CancelCauseFunc) error {
				cancel(leader.ErrKeyTaken)
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
				cancel(leader.ErrKeyTaken)
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
				if !errors.Is(r, leader.ErrKeyTaken) {
					t.Errorf("OnDemoted reason = %v; want %v", r, leader.ErrKeyTaken)
				}
			}
		})
	}
}

// stragglersError is what the lifecycle supervisor returns when it gave up
// waiting for workers.
type stragglersError struct{ names []string }

func (e *stragglersError) Error() string        { return "stragglers: " + strings.Join(e.names, ",") }
func (e *stragglersError) Stragglers() []string { return e.names }

func TestLeadBody(t *testing.T) {
	boom := errors.New("boom")
	left := &stragglersError{names: []string{"indexer"}}
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
				cancel(leader.ErrSessionInvalidated)
				return boom
			},
			wantErr:    boom,
			wantReason: leader.ErrSessionInvalidated,
		},
		{
			name: "stragglers error passes through",
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
			var s interface{ Stragglers() []string }
			if tt.wantErr == left && (!errors.As(err, &s) || s != left) {
				t.Errorf("Lead error = %v; want the stragglers error unchanged", err)
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
