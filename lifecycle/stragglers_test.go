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

// stragglers is the protocol the elector looks for in its leader work's
// error.
type stragglers interface {
	error
	Stragglers() []string
	Done() <-chan struct{}
}

// checkStragglers checks that err is a stragglers error naming names,
// whose Done is still open, and returns it as the elector finds it.
func checkStragglers(t *testing.T, err error, names ...string) stragglers {
	t.Helper()
	if !errors.Is(err, lifecycle.ErrStragglers) {
		t.Fatalf("Run = %v; want ErrStragglers", err)
	}
	var se *lifecycle.StragglersError
	if !errors.As(err, &se) || !slices.Equal(se.Names, names) {
		t.Fatalf("Run = %v; want a *StragglersError naming %q", err, names)
	}
	var left stragglers
	if !errors.As(err, &left) || !slices.Equal(left.Stragglers(), names) {
		t.Fatalf("Run = %v; Stragglers() should name %q", err, names)
	}
	if isClosed(left.Done()) {
		t.Fatalf("Run = %v; Done is closed while the stragglers run", err)
	}
	return left
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
	left := checkStragglers(t, err, "slow")
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

	if got := left.Stragglers(); !slices.Equal(got, []string{"slow"}) {
		t.Errorf("Stragglers() = %q while it runs; want slow", got)
	}
	if left.Done() != left.Done() {
		t.Error("Done returns a different channel on each call")
	}

	close(slow.release)
	waitDone(t, "Done after the straggler returned", left.Done())
	if got := s.Stragglers(); len(got) != 0 {
		t.Errorf("Stragglers = %q once Done is closed; want none", got)
	}
	if got := s.Running(); len(got) != 0 {
		t.Errorf("Running = %q once Done is closed; want none", got)
	}
}

// TestStragglersErrorLiteral: a StragglersError not made by a Supervisor
// has nothing to wait for.
func TestStragglersErrorLiteral(t *testing.T) {
	var err error = &lifecycle.StragglersError{Names: []string{"x"}}
	var left stragglers
	if !errors.As(err, &left) {
		t.Fatalf("%T does not implement the stragglers protocol", err)
	}
	if !isClosed(left.Done()) {
		t.Error("Done of a literal StragglersError is not closed")
	}
	if got := left.Stragglers(); !slices.Equal(got, []string{"x"}) {
		t.Errorf("Stragglers() = %q; want x", got)
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
	left1 := checkStragglers(t, wait1(), "slow")

	// Term 2 ends before the straggler returns: it never started the
	// worker, and reports the straggler again, with a Done that waits for
	// it.
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	left2 := checkStragglers(t, s.Run(ctx2), "slow")

	// Term 3 starts the worker once the straggler has returned.
	ctx3, cancel3 := context.WithCancel(context.Background())
	defer cancel3()
	wait3 := runAsync(ctx3, s)
	close(slow.release) // the straggler, and every later run, returns at once
	waitDone(t, "term 1's Done", left1.Done())
	waitDone(t, "term 2's Done", left2.Done())
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
// straggler are both reported (errors.Join), and the elector still finds
// the stragglers protocol in the joined error.
func TestRunFailureAndStragglers(t *testing.T) {
	slow := newStuck("slow")
	bad := lifecycle.WorkerFunc("bad", func(context.Context) error {
		<-slow.started
		return errors.New("boom")
	})
	s := newSupervisor(t, []lifecycle.Worker{slow, bad}, lifecycle.WithGrace(grace), lifecycle.WithPolicy(lifecycle.ResignOnError))
	err := s.Run(context.Background())
	left := checkStragglers(t, err, "slow")
	if !errors.Is(err, lifecycle.ErrWorkerFailed) {
		t.Errorf("Run = %v; want ErrWorkerFailed too", err)
	}
	if _, joined := err.(interface{ Unwrap() []error }); !joined {
		t.Errorf("Run = %T; want the failure and the stragglers joined", err)
	}
	close(slow.release)
	waitDone(t, "Done after the straggler returned", left.Done())
	if got := s.Running(); len(got) != 0 {
		t.Errorf("Running = %q once Done is closed; want none", got)
	}
}

// TestStragglersDoneWaitsForAll: Done stays open until the last of the
// stragglers it names has returned, in whatever order they return.
func TestStragglersDoneWaitsForAll(t *testing.T) {
	x, y := newStuck("x"), newStuck("y")
	s := newSupervisor(t, []lifecycle.Worker{x, y}, lifecycle.WithGrace(grace))
	ctx, cancel := context.WithCancel(context.Background())
	wait := runAsync(ctx, s)
	<-x.started
	<-y.started
	cancel()
	left := checkStragglers(t, wait(), "x", "y")

	close(y.release)
	eventually(t, "y to leave Stragglers", func() bool { return slices.Equal(s.Stragglers(), []string{"x"}) })
	if isClosed(left.Done()) {
		t.Error("Done is closed while x still runs")
	}
	close(x.release)
	waitDone(t, "Done after both returned", left.Done())
	if got := s.Running(); len(got) != 0 {
		t.Errorf("Running = %q once Done is closed; want none", got)
	}
}
