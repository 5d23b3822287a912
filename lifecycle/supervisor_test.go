package lifecycle_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cenkalti/backoff/v4"

	"github.com/consulelect/consulelect/lifecycle"
)

func TestNewSupervisorValidates(t *testing.T) {
	ok := func(context.Context) error { return nil }
	tests := []struct {
		name    string
		workers []lifecycle.Worker
		opts    []lifecycle.Option
		wantErr error
		wantMsg string
	}{
		{name: "no workers"},
		{name: "valid", workers: []lifecycle.Worker{lifecycle.WorkerFunc("a", ok), lifecycle.WorkerFunc("b", ok)}},
		{name: "nil worker", workers: []lifecycle.Worker{lifecycle.WorkerFunc("a", ok), nil}, wantErr: lifecycle.ErrInvalidWorker, wantMsg: "worker 1"},
		{name: "empty name", workers: []lifecycle.Worker{lifecycle.WorkerFunc("", ok)}, wantErr: lifecycle.ErrInvalidWorker, wantMsg: "worker 0"},
		{name: "duplicate name", workers: []lifecycle.Worker{lifecycle.WorkerFunc("a", ok), lifecycle.WorkerFunc("a", ok)}, wantErr: lifecycle.ErrInvalidWorker, wantMsg: `"a"`},
		{name: "zero grace", opts: []lifecycle.Option{lifecycle.WithGrace(0)}, wantErr: lifecycle.ErrInvalidOption, wantMsg: "grace"},
		{name: "nil backoff means the default", opts: []lifecycle.Option{lifecycle.WithBackoff(nil)}},
		{name: "unknown policy", opts: []lifecycle.Option{lifecycle.WithPolicy(7)}, wantErr: lifecycle.ErrInvalidOption, wantMsg: "Policy(7)"},
		{name: "nil logger means none", opts: []lifecycle.Option{lifecycle.WithLogger(nil)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := lifecycle.NewSupervisor(tt.workers, tt.opts...)
			if tt.wantErr == nil {
				if err != nil || s == nil {
					t.Fatalf("NewSupervisor = %v, %v; want a supervisor", s, err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("NewSupervisor error = %v; want %v naming %s", err, tt.wantErr, tt.wantMsg)
			}
		})
	}
}

// TestRunCancelsAndWaits: every worker starts, sees ctx end, and has
// returned when Run returns nil.
func TestRunCancelsAndWaits(t *testing.T) {
	a, b, c := newBlocker("a"), newBlocker("b"), newBlocker("c")
	s := newSupervisor(t, []lifecycle.Worker{a, b, c})
	ctx, cancel := context.WithCancel(context.Background())
	wait := runAsync(ctx, s)
	for _, w := range []*blocker{a, b, c} {
		w.waitStarted(t)
	}
	if got := s.Running(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("Running = %q; want a, b, c", got)
	}
	cancel()
	if err := wait(); err != nil {
		t.Fatalf("Run = %v; want nil", err)
	}
	for _, w := range []*blocker{a, b, c} {
		if w.cause.Load() == nil {
			t.Errorf("worker %s had not returned when Run returned", w.name)
		}
		if n := w.runs.Load(); n != 1 {
			t.Errorf("worker %s ran %d times; want 1", w.name, n)
		}
	}
	if got := s.Running(); len(got) != 0 {
		t.Errorf("Running after Run = %q; want none", got)
	}
}

// TestRunReturns covers the workers' returns while ctx lives, when every
// worker eventually returns nil (so Run returns without ctx ending) or the
// term is given up.
func TestRunReturns(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name      string
		fails     int  // the worker fails this many times, then returns nil
		panics    bool // fail by panicking
		policy    lifecycle.Policy
		stopAfter int32 // the backoff says Stop after this many calls (0: never)
		wantRuns  int32
		wantBack  int32 // NextBackOff calls
		wantErr   error
		wantLog   []string
	}{
		{name: "nil return is not restarted", wantRuns: 1},
		{name: "error is restarted after backoff", fails: 3, wantRuns: 4, wantBack: 3, wantLog: []string{`"worker":"w"`, `"restart_in":`, `"error":"boom"`}},
		{name: "panic is recovered and restarted", fails: 1, panics: true, wantRuns: 2, wantBack: 1, wantLog: []string{`"worker":"w"`, `"panic":"kaboom"`, `"stack":`}},
		{name: "backoff gives up", fails: 5, stopAfter: 2, wantRuns: 3, wantBack: 3, wantErr: lifecycle.ErrWorkerFailed},
		{name: "ResignOnError", fails: 1, policy: lifecycle.ResignOnError, wantRuns: 1, wantErr: lifecycle.ErrWorkerFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var runs, backs atomic.Int32
			w := lifecycle.WorkerFunc("w", func(ctx context.Context) error {
				if int(runs.Add(1)) > tt.fails {
					return nil
				}
				if tt.panics {
					panic("kaboom")
				}
				return boom
			})
			log, logs := testLogger()
			s := newSupervisor(t, []lifecycle.Worker{w}, lifecycle.WithPolicy(tt.policy), lifecycle.WithLogger(log),
				lifecycle.WithBackoff(func() backoff.BackOff { return countingBackOff{calls: &backs, stopAfter: tt.stopAfter} }))
			err := s.Run(context.Background())
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Run = %v; want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil && !strings.Contains(err.Error(), `"w"`) {
				t.Errorf("Run error %q does not name the worker", err)
			}
			if got := runs.Load(); got != tt.wantRuns {
				t.Errorf("runs = %d; want %d", got, tt.wantRuns)
			}
			if got := backs.Load(); got != tt.wantBack {
				t.Errorf("NextBackOff calls = %d; want %d", got, tt.wantBack)
			}
			out := logs.String()
			for _, want := range tt.wantLog {
				if !strings.Contains(out, want) {
					t.Errorf("log lacks %s:\n%s", want, out)
				}
			}
		})
	}
}

// TestRunResignOnError: a failing worker makes Run cancel the others, wait
// for them, and return ErrWorkerFailed naming it, while ctx still lives.
func TestRunResignOnError(t *testing.T) {
	a, b := newBlocker("a"), newBlocker("b")
	boom := errors.New("boom")
	bad := lifecycle.WorkerFunc("bad", func(context.Context) error {
		<-a.started
		<-b.started
		return boom
	})
	s := newSupervisor(t, []lifecycle.Worker{a, bad, b}, lifecycle.WithPolicy(lifecycle.ResignOnError))
	err := s.Run(context.Background())
	if !errors.Is(err, lifecycle.ErrWorkerFailed) || !errors.Is(err, boom) || !strings.Contains(err.Error(), `"bad"`) {
		t.Fatalf("Run = %v; want ErrWorkerFailed wrapping boom naming \"bad\"", err)
	}
	for _, w := range []*blocker{a, b} {
		cause, _ := w.cause.Load().(error)
		if !errors.Is(cause, lifecycle.ErrWorkerFailed) {
			t.Errorf("worker %s: cause = %v; want the failure (returned before Run)", w.name, cause)
		}
	}
}

func TestRunAlreadyRunning(t *testing.T) {
	a := newBlocker("a")
	s := newSupervisor(t, []lifecycle.Worker{a})
	for term := 1; term <= 2; term++ { // Run again for the next term
		ctx, cancel := context.WithCancel(context.Background())
		wait := runAsync(ctx, s)
		a.waitStarted(t)
		if err := s.Run(ctx); !errors.Is(err, lifecycle.ErrAlreadyRunning) {
			t.Errorf("term %d: concurrent Run = %v; want ErrAlreadyRunning", term, err)
		}
		cancel()
		if err := wait(); err != nil {
			t.Fatalf("term %d: Run = %v", term, err)
		}
	}
	if n := a.runs.Load(); n != 2 {
		t.Errorf("worker ran %d times over two terms; want 2", n)
	}
}
