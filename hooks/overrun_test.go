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

// stuck replaces h's callback of phase ("elected" or "demoted") with one
// that records "<phase> <name>", ignores its ctx until release is closed,
// then records "<phase> <name> returned".
func (r *recorder) stuck(h hooks.Hook, phase string, release <-chan struct{}) hooks.Hook {
	block := func() {
		r.add("%s %s", phase, h.Name)
		<-release
		r.add("%s %s returned", phase, h.Name)
	}
	if phase == "elected" {
		h.OnElected = func(context.Context, *leader.Term) error { block(); return nil }
	} else {
		h.OnDemoted = func(context.Context, *leader.Term, error) { block() }
	}
	return h
}

// TestLeadOverruns: a hook still running at its deadline makes Lead return
// at that deadline with a stragglers error; the rest of the term (waiting
// for the hook, the remaining OnDemoted in reverse order, the body's
// stragglers) finishes in the background before Done is closed.
func TestLeadOverruns(t *testing.T) {
	const timeout = 50 * time.Millisecond
	boom := errors.New("boom")
	tests := []struct {
		name     string
		stuck    map[string]string // hook name → the phase in which it ignores its ctx
		body     string            // "": ends the term; "boom": fails; "stragglers": ends the term, leaves "indexer"
		release  []string          // the order in which the test lets the stuck parts return
		atReturn []string          // calls when Lead returns
		atDone   []string          // calls when Done is closed
		wantIs   []error
		wantNot  []error
		names    []string
	}{
		{
			name:     "OnElected: failed, not paired, earlier hooks demoted after it returns",
			stuck:    map[string]string{"s": "elected"},
			release:  []string{"s"},
			atReturn: []string{"elected a", "elected s"},
			atDone:   []string{"elected a", "elected s", "elected s returned", "demoted a"},
			wantIs:   []error{hooks.ErrHookFailed, hooks.ErrHookTimeout},
			names:    []string{`hook "s" OnElected`},
		},
		{
			name:     "OnElected, then an OnDemoted in the background: waited for",
			stuck:    map[string]string{"s": "elected", "a": "demoted"},
			release:  []string{"s", "a"},
			atReturn: []string{"elected a", "elected s"},
			atDone:   []string{"elected a", "elected s", "elected s returned", "demoted a", "demoted a returned"},
			wantIs:   []error{hooks.ErrHookFailed, hooks.ErrHookTimeout},
			names:    []string{`hook "s" OnElected`},
		},
		{
			name:     "OnDemoted: the earlier hooks are demoted after it returns",
			stuck:    map[string]string{"s": "demoted"},
			release:  []string{"s"},
			atReturn: []string{"elected a", "elected s", "elected c", "body", "demoted c", "demoted s"},
			atDone:   []string{"elected a", "elected s", "elected c", "body", "demoted c", "demoted s", "demoted s returned", "demoted a"},
			wantIs:   []error{hooks.ErrHookTimeout},
			wantNot:  []error{hooks.ErrHookFailed},
			names:    []string{`hook "s" OnDemoted`},
		},
		{
			name:     "OnDemoted after the body failed: both reported",
			stuck:    map[string]string{"s": "demoted"},
			body:     "boom",
			release:  []string{"s"},
			atReturn: []string{"elected a", "elected s", "elected c", "body", "demoted c", "demoted s"},
			atDone:   []string{"elected a", "elected s", "elected c", "body", "demoted c", "demoted s", "demoted s returned", "demoted a"},
			wantIs:   []error{hooks.ErrHookTimeout, boom},
			wantNot:  []error{hooks.ErrHookFailed},
			names:    []string{`hook "s" OnDemoted`},
		},
		{
			name:     "OnDemoted after the body left stragglers: Done waits for the hooks, then them",
			stuck:    map[string]string{"s": "demoted"},
			body:     "stragglers",
			release:  []string{"s", "body"},
			atReturn: []string{"elected a", "elected s", "elected c", "body", "demoted c", "demoted s"},
			atDone:   []string{"elected a", "elected s", "elected c", "body", "demoted c", "demoted s", "demoted s returned", "demoted a"},
			wantIs:   []error{hooks.ErrHookTimeout},
			names:    []string{`hook "s" OnDemoted`, "indexer"},
		},
		{
			name:     "OnDemoted after the body left stragglers: Done waits for them, then the hooks",
			stuck:    map[string]string{"s": "demoted"},
			body:     "stragglers",
			release:  []string{"body", "s"},
			atReturn: []string{"elected a", "elected s", "elected c", "body", "demoted c", "demoted s"},
			atDone:   []string{"elected a", "elected s", "elected c", "body", "demoted c", "demoted s", "demoted s returned", "demoted a"},
			wantIs:   []error{hooks.ErrHookTimeout},
			names:    []string{`hook "s" OnDemoted`, "indexer"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec recorder
			gates, open := map[string]<-chan struct{}{}, map[string]func(){}
			for _, name := range tt.release {
				gates[name], open[name] = gate(t)
			}
			var hs []hooks.Hook
			for _, name := range []string{"a", "s", "c"} {
				h := rec.hook(name, 0, nil)
				if phase, ok := tt.stuck[name]; ok {
					h = rec.stuck(h, phase, gates[name])
				}
				hs = append(hs, h)
			}
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			left := &stragglersError{names: []string{"indexer"}, done: gates["body"]}
			body := func(context.Context) error {
				rec.add("body")
				switch tt.body {
				case "boom":
					return boom
				case "stragglers":
					cancel(leader.ErrStopped)
					return left
				}
				cancel(leader.ErrStopped)
				return nil
			}
			log, logs := testLogger()
			r := newRunner(t, hs, hooks.WithTimeout(timeout), hooks.WithLogger(log))

			start := time.Now()
			err := r.Lead(ctx, testTerm(), body)
			if took := time.Since(start); took < timeout || took > timeout+time.Second {
				t.Errorf("Lead returned after %s; want at the hook's deadline (%s)", took, timeout)
			}
			if got := rec.get(); !slices.Equal(got, tt.atReturn) {
				t.Errorf("calls when Lead returned = %q; want %q", got, tt.atReturn)
			}
			var s stragglers
			if !errors.As(err, &s) {
				t.Fatalf("Lead error = %v (%T); want one with Stragglers and Done", err, err)
			}
			if got := s.Stragglers(); !slices.Equal(got, tt.names) {
				t.Errorf("Stragglers() = %q; want %q", got, tt.names)
			}
			for _, want := range tt.wantIs {
				if !errors.Is(err, want) {
					t.Errorf("Lead error = %v; want it to wrap %v", err, want)
				}
			}
			for _, not := range tt.wantNot {
				if errors.Is(err, not) {
					t.Errorf("Lead error = %v; want it not to wrap %v", err, not)
				}
			}
			if !strings.Contains(err.Error(), `"s"`) {
				t.Errorf("Lead error %q does not name the hook", err)
			}

			for _, name := range tt.release {
				if isClosed(s.Done()) {
					t.Fatalf("Done closed while %s still runs; calls %q", name, rec.get())
				}
				open[name]()
			}
			waitDone(t, "Done", s.Done())
			if got := rec.get(); !slices.Equal(got, tt.atDone) {
				t.Errorf("calls when Done closed = %q; want %q", got, tt.atDone)
			}
			out := logs.String()
			for _, want := range []string{`"hook":"s"`, `"timeout":`, `"@level":"warn"`, "hook returned after its timeout"} {
				if !strings.Contains(out, want) {
					t.Errorf("log lacks %s:\n%s", want, out)
				}
			}
		})
	}
}
