package lifecycle_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/consulelect/consulelect/lifecycle"
)

const grace = 50 * time.Millisecond

// checkStragglers checks that err is a stragglers error naming names.
func checkStragglers(t *testing.T, err error, names ...string) {
	t.Helper()
	if !errors.Is(err, lifecycle.ErrStragglers) {
		t.Fatalf("Run = %v; want ErrStragglers", err)
	}
	var se *lifecycle.StragglersError
	if !errors.As(err, &se) || !slices.Equal(se.Names, names) {
		t.Fatalf("Run = %v; want a *StragglersError naming %q", err, names)
	}
	var left interface{ Stragglers() []string } // what the elector looks for
	if !errors.As(err, &left) || !slices.Equal(left.Stragglers(), names) {
		t.Fatalf("Run = %v; Stragglers() should name %q", err, names)
	}
}

func TestRunStragglers(t *testing.T) {
	slow, fine := newStuck("slow"), newBlocker("fine")
	log, logs := testLogger()
	s := newSupervisor(t, []lifecycle.Worker{slow, fine}, lifecycle.WithGrace(grace), lifecycle.WithLogger(log))
	ctx, cancel := context.WithCancel(context.Background())
	wait := runAsync(ctx, s)
	<-slow.started
	fine.waitStarted(t)
	cancel()
	start := time.Now()
	err := wait()
	if waited := time.Since(start); waited < grace {
		t.Errorf("Run gave up after %s; want the grace period %s", waited, grace)
	}
	checkStragglers(t, err, "slow")
	if fine.cause.Load() == nil {
		t.Error("the well-behaved worker had not returned when Run returned")
	}
	if got := s.Stragglers(); !slices.Equal(got, []string{"slow"}) {
		t.Errorf("Stragglers = %q; want slow", got)
	}
	if got := s.Running(); !slices.Equal(got, []string{"slow"}) {
		t.Errorf("Running = %q; want slow", got)
	}
	if out := logs.String(); !strings.Contains(out, `"worker":"slow"`) || !strings.Contains(out, `"@level":"error"`) {
		t.Errorf("straggler not logged:\n%s", out)
	}

	close(slow.release)
	eventually(t, "the straggler to leave Stragglers", func() bool { return len(s.Stragglers()) == 0 })
	if got := s.Running(); len(got) != 0 {
		t.Errorf("Running = %q after the straggler returned; want none", got)
	}
}

// TestRunAfterStragglers: a worker never runs alongside its own straggler
// from an earlier term; a Run that ends while it still runs reports it.
func TestRunAfterStragglers(t *testing.T) {
	slow := newStuck("slow")
	s := newSupervisor(t, []lifecycle.Worker{slow}, lifecycle.WithGrace(grace))

	// Term 1 leaves a straggler.
	ctx1, cancel1 := context.WithCancel(context.Background())
	wait1 := runAsync(ctx1, s)
	<-slow.started
	cancel1()
	checkStragglers(t, wait1(), "slow")

	// Term 2 ends before the straggler returns: it never started the
	// worker, and reports the straggler again.
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	checkStragglers(t, s.Run(ctx2), "slow")

	// Term 3 starts the worker once the straggler has returned.
	ctx3, cancel3 := context.WithCancel(context.Background())
	defer cancel3()
	wait3 := runAsync(ctx3, s)
	close(slow.release) // the straggler, and every later run, returns at once
	<-slow.started
	eventually(t, "the worker to finish", func() bool { return len(s.Running()) == 0 })
	if err := wait3(); err != nil {
		t.Fatalf("term 3: Run = %v", err)
	}
	if n := slow.maxInRun.Load(); n != 1 {
		t.Errorf("up to %d instances of the worker ran at once; want 1", n)
	}
}

// TestRunFailureAndStragglers: under ResignOnError, a failure and a
// straggler are both reported.
func TestRunFailureAndStragglers(t *testing.T) {
	slow := newStuck("slow")
	bad := lifecycle.WorkerFunc("bad", func(context.Context) error {
		<-slow.started
		return errors.New("boom")
	})
	s := newSupervisor(t, []lifecycle.Worker{slow, bad}, lifecycle.WithGrace(grace), lifecycle.WithPolicy(lifecycle.ResignOnError))
	err := s.Run(context.Background())
	checkStragglers(t, err, "slow")
	if !errors.Is(err, lifecycle.ErrWorkerFailed) {
		t.Errorf("Run = %v; want ErrWorkerFailed too", err)
	}
	close(slow.release)
	eventually(t, "the straggler to return", func() bool { return len(s.Running()) == 0 })
}
