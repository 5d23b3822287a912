package hooks_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/consulelect/consulelect/hooks"
	"github.com/consulelect/consulelect/leader"
)

func TestLeaderFuncValidates(t *testing.T) {
	var rec recorder
	tests := []struct {
		name    string
		hooks   []hooks.Hook
		opts    []hooks.Option
		wantErr error
		wantMsg string
	}{
		{name: "no hooks", hooks: nil},
		{name: "valid", hooks: []hooks.Hook{rec.hook("a", 0, nil), {Name: "b"}}},
		{name: "empty name", hooks: []hooks.Hook{rec.hook("a", 0, nil), {}}, wantErr: hooks.ErrInvalidHook, wantMsg: "hook 1"},
		{name: "duplicate name", hooks: []hooks.Hook{rec.hook("a", 0, nil), rec.hook("a", 1, nil)}, wantErr: hooks.ErrInvalidHook, wantMsg: `"a"`},
		{name: "zero timeout", opts: []hooks.Option{hooks.WithTimeout(0)}, wantErr: hooks.ErrInvalidOption, wantMsg: "timeout"},
		{name: "nil logger means none", opts: []hooks.Option{hooks.WithLogger(nil)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lead, err := hooks.LeaderFunc(tt.hooks, nil, tt.opts...)
			if tt.wantErr == nil {
				if err != nil || lead == nil {
					t.Fatalf("LeaderFunc = %v; want a leader function", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("LeaderFunc error = %v; want %v naming %s", err, tt.wantErr, tt.wantMsg)
			}
		})
	}
}

func TestLeadOrder(t *testing.T) {
	type spec struct {
		name  string
		order int
	}
	tests := []struct {
		name    string
		hooks   []spec
		sort    bool // sort by Name first, as the fx layer does
		elected []string
	}{
		{name: "registration order", hooks: []spec{{"a", 0}, {"b", 0}, {"c", 0}}, elected: []string{"a", "b", "c"}},
		{name: "by Order", hooks: []spec{{"a", 3}, {"b", -1}, {"c", 2}}, elected: []string{"b", "c", "a"}},
		{name: "Order then registration order", hooks: []spec{{"z", 1}, {"y", 0}, {"x", 1}, {"w", 0}}, elected: []string{"y", "w", "z", "x"}},
		{name: "sorted by Name first: Order then Name", hooks: []spec{{"z", 1}, {"y", 0}, {"x", 1}, {"w", 0}}, sort: true, elected: []string{"w", "y", "x", "z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec recorder
			var hs []hooks.Hook
			for _, s := range tt.hooks {
				hs = append(hs, rec.hook(s.name, s.order, nil))
			}
			if tt.sort {
				slices.SortFunc(hs, func(a, b hooks.Hook) int { return strings.Compare(a.Name, b.Name) })
			}
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			if err := newRunner(t, hs).Lead(ctx, testTerm(), endTerm(cancel, leader.ErrStopped)); err != nil {
				t.Fatalf("Lead: %v", err)
			}
			var want []string
			for _, n := range tt.elected {
				want = append(want, "elected "+n)
			}
			for i := len(tt.elected) - 1; i >= 0; i-- {
				want = append(want, "demoted "+tt.elected[i])
			}
			if got := rec.get(); !slices.Equal(got, want) {
				t.Fatalf("calls = %q; want %q", got, want)
			}
		})
	}
}

func TestLeadPairing(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name     string
		hooks    func(rec *recorder) []hooks.Hook
		want     []string
		wantHook string // the failed hook named in the error; "" for no error
	}{
		{
			name: "all succeed",
			hooks: func(rec *recorder) []hooks.Hook {
				return []hooks.Hook{rec.hook("a", 0, nil), rec.hook("b", 0, nil), rec.hook("c", 0, nil)}
			},
			want: []string{"elected a", "elected b", "elected c", "body", "demoted c", "demoted b", "demoted a"},
		},
		{
			name: "2nd of 3 fails",
			hooks: func(rec *recorder) []hooks.Hook {
				return []hooks.Hook{rec.hook("a", 0, nil), rec.hook("b", 0, boom), rec.hook("c", 0, nil)}
			},
			want:     []string{"elected a", "elected b", "demoted a"},
			wantHook: "b",
		},
		{
			name:     "1st fails",
			hooks:    func(rec *recorder) []hooks.Hook { return []hooks.Hook{rec.hook("a", 0, boom), rec.hook("b", 0, nil)} },
			want:     []string{"elected a"},
			wantHook: "a",
		},
		{
			name: "hook without OnElected is paired",
			hooks: func(rec *recorder) []hooks.Hook {
				onlyDemoted := hooks.Hook{Name: "d", OnDemoted: func(context.Context, *leader.Term, error) { rec.add("demoted d") }}
				return []hooks.Hook{rec.hook("a", 0, nil), onlyDemoted, rec.hook("c", 0, boom)}
			},
			want:     []string{"elected a", "elected c", "demoted d", "demoted a"},
			wantHook: "c",
		},
		{
			name: "hook without OnDemoted",
			hooks: func(rec *recorder) []hooks.Hook {
				onlyElected := hooks.Hook{Name: "e", OnElected: func(context.Context, *leader.Term) error { rec.add("elected e"); return nil }}
				return []hooks.Hook{onlyElected, rec.hook("b", 0, nil)}
			},
			want: []string{"elected e", "elected b", "body", "demoted b"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec recorder
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			body := func(context.Context) error {
				rec.add("body")
				cancel(leader.ErrStopped)
				return nil
			}
			err := newRunner(t, tt.hooks(&rec)).Lead(ctx, testTerm(), body)
			if got := rec.get(); !slices.Equal(got, tt.want) {
				t.Errorf("calls = %q; want %q", got, tt.want)
			}
			if tt.wantHook == "" {
				if err != nil {
					t.Fatalf("Lead: %v", err)
				}
				return
			}
			if !errors.Is(err, hooks.ErrHookFailed) || !errors.Is(err, boom) || !strings.Contains(err.Error(), `"`+tt.wantHook+`"`) {
				t.Fatalf("Lead error = %v; want ErrHookFailed wrapping boom naming %q", err, tt.wantHook)
			}
		})
	}
}

// TestLeadHookArguments checks what hooks receive: the term as given, an
// OnElected ctx with the timeout as deadline,
// and an OnDemoted ctx that outlives the term (keeping its values) and the
// term's reason.
func TestLeadHookArguments(t *testing.T) {
	type key struct{}
	term := testTerm()
	ctx, cancel := context.WithCancelCause(context.WithValue(context.Background(), key{}, "v"))
	defer cancel(nil)
	var (
		electedCtx, demotedCtx context.Context
		gotTerms               []*leader.Term
		gotReason              error
	)
	h := hooks.Hook{
		Name: "a",
		OnElected: func(ctx context.Context, tm *leader.Term) error {
			electedCtx, gotTerms = ctx, append(gotTerms, tm)
			return nil
		},
		OnDemoted: func(ctx context.Context, tm *leader.Term, reason error) {
			demotedCtx, gotTerms, gotReason = ctx, append(gotTerms, tm), reason
			if ctx.Err() != nil {
				t.Errorf("OnDemoted ctx is done: %v", ctx.Err())
			}
			if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > time.Minute {
				t.Errorf("OnDemoted ctx deadline = %v, %v; want within the timeout", dl, ok)
			}
		},
	}
	r := newRunner(t, []hooks.Hook{h}, hooks.WithTimeout(time.Minute))
	if err := r.Lead(ctx, term, endTerm(cancel, leader.ErrResigned)); err != nil {
		t.Fatalf("Lead: %v", err)
	}
	if len(gotTerms) != 2 || gotTerms[0] != term || gotTerms[1] != term {
		t.Errorf("hooks got terms %v; want %p twice", gotTerms, term)
	}
	if !errors.Is(gotReason, leader.ErrResigned) {
		t.Errorf("reason = %v; want %v", gotReason, leader.ErrResigned)
	}
	if _, ok := electedCtx.Deadline(); !ok {
		t.Error("OnElected ctx has no deadline")
	}
	if demotedCtx.Value(key{}) != "v" {
		t.Error("OnDemoted ctx lost the term ctx's values")
	}
}
