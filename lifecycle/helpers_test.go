package lifecycle_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/consulelect/consulelect/internal/harness/testkit"

	"github.com/consulelect/consulelect/lifecycle"
)

// blocker is a well-behaved worker: it reports its start, then runs until
// its ctx is done and returns ctx.Err(); cause records context.Cause.
type blocker struct {
	name    string
	started chan struct{} // receives once per start
	runs    atomic.Int32
	cause   atomic.Value // error
}

func newBlocker(name string) *blocker {
	return &blocker{name: name, started: make(chan struct{}, 16)}
}

func (b *blocker) Name() string { return b.name }

func (b *blocker) Run(ctx context.Context) error {
	b.runs.Add(1)
	b.started <- struct{}{}
	<-ctx.Done()
	b.cause.Store(context.Cause(ctx))
	return ctx.Err()
}

// waitStarted waits until b has started once more.
func (b *blocker) waitStarted(t *testing.T) {
	t.Helper()
	select {
	case <-b.started:
	case <-time.After(5 * time.Second):
		t.Fatalf("worker %s did not start", b.name)
	}
}

// stuck is a worker that ignores its ctx until released.
type stuck struct {
	name     string
	started  chan struct{}
	release  chan struct{}
	inRun    atomic.Int32 // instances running now
	maxInRun atomic.Int32
}

func newStuck(name string) *stuck {
	return &stuck{name: name, started: make(chan struct{}, 16), release: make(chan struct{})}
}

func (w *stuck) Name() string { return w.name }

func (w *stuck) Run(ctx context.Context) error {
	n := w.inRun.Add(1)
	defer w.inRun.Add(-1)
	if n > w.maxInRun.Load() {
		w.maxInRun.Store(n)
	}
	w.started <- struct{}{}
	<-w.release
	return ctx.Err()
}

// countingBackOff is a constant backoff that counts its NextBackOff calls
// and says Stop after stopAfter of them (0: never).
type countingBackOff struct {
	calls     *atomic.Int32
	stopAfter int32
}

func (b countingBackOff) NextBackOff() time.Duration {
	if n := b.calls.Add(1); b.stopAfter > 0 && n > b.stopAfter {
		return backoff.Stop
	}
	return time.Millisecond
}

func (b countingBackOff) Reset() {}

// runAsync runs s.Run(ctx) in a goroutine; the returned func waits for it.
func runAsync(ctx context.Context, s *lifecycle.Supervisor) func() error {
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	return func() error { return <-done }
}

// Helpers shared with other packages' tests.
var (
	testLogger = testkit.JSONLogger
	isClosed   = testkit.IsClosed
	waitDone   = testkit.WaitClosed
)

// eventually waits until cond holds, or fails the test.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, what, cond)
}

func newSupervisor(t *testing.T, ws []lifecycle.Worker, opts ...lifecycle.Option) *lifecycle.Supervisor {
	t.Helper()
	s, err := lifecycle.NewSupervisor(ws, opts...)
	if err != nil {
		t.Fatalf("NewSupervisor: %v", err)
	}
	return s
}
