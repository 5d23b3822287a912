package hooks_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/consulelect/consulelect/hooks"
	"github.com/consulelect/consulelect/leader"
	"github.com/consulelect/consulelect/lifecycle"
)

// TestLeadWithSupervisorStragglers: with the lifecycle supervisor as body,
// a worker that ignores its ctx reaches the elector through Lead as a
// stragglers error whose Done waits for it, whether or not an OnDemoted
// overruns too.
func TestLeadWithSupervisorStragglers(t *testing.T) {
	tests := []struct {
		name         string
		stuckDemoted bool // hook a's OnDemoted ignores its ctx until released
		names        []string
	}{
		{name: "the supervisor's error passes through", names: []string{"w"}},
		{name: "and an OnDemoted overruns", stuckDemoted: true, names: []string{`hook "a" OnDemoted`, "w"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec recorder
			releaseWorker, openWorker := gate(t)
			releaseHook, openHook := gate(t)
			started := make(chan struct{})
			w := lifecycle.WorkerFunc("w", func(context.Context) error {
				close(started)
				<-releaseWorker
				return nil
			})
			sup, err := lifecycle.NewSupervisor([]lifecycle.Worker{w}, lifecycle.WithGrace(10*time.Millisecond))
			if err != nil {
				t.Fatalf("NewSupervisor: %v", err)
			}
			h := rec.hook("a", 0, nil)
			if tt.stuckDemoted {
				h = rec.stuck(h, "demoted", releaseHook)
			}
			r := newRunner(t, []hooks.Hook{h}, hooks.WithTimeout(50*time.Millisecond))

			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			ender := make(chan struct{})
			go func() {
				defer close(ender)
				<-started
				cancel(leader.ErrStopped)
			}()
			err = r.Lead(ctx, testTerm(), sup.Run)
			<-ender

			var s stragglers
			if !errors.As(err, &s) || !errors.Is(err, lifecycle.ErrStragglers) {
				t.Fatalf("Lead error = %v (%T); want the supervisor's stragglers", err, err)
			}
			if got := s.Stragglers(); !slices.Equal(got, tt.names) {
				t.Errorf("Stragglers() = %q; want %q", got, tt.names)
			}
			if isClosed(s.Done()) {
				t.Fatal("Done closed while the worker runs")
			}
			openHook()
			if tt.stuckDemoted {
				waitFor(t, "the late OnDemoted to return", func() bool { return slices.Contains(rec.get(), "demoted a returned") })
				if isClosed(s.Done()) {
					t.Fatal("Done closed while the worker runs")
				}
			}
			openWorker()
			waitDone(t, "Done", s.Done())
			if got := sup.Stragglers(); len(got) != 0 {
				t.Errorf("supervisor's Stragglers = %q once Done is closed; want none", got)
			}
		})
	}
}
