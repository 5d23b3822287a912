package hooks_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/consulelect/consulelect/hooks"
	"github.com/consulelect/consulelect/leader"
)

// testTerm is a term as tests can build one: only exported fields. Lead
// must not call its methods.
func testTerm() *leader.Term { return &leader.Term{Key: "k", Token: 7} }

// recorder records hook calls in the order they happen.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, fmt.Sprintf(format, args...))
}

func (r *recorder) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

// hook returns a hook named name that records "elected <name>" and
// "demoted <name>", and whose OnElected returns electErr.
func (r *recorder) hook(name string, order int, electErr error) hooks.Hook {
	return hooks.Hook{
		Name:  name,
		Order: order,
		OnElected: func(context.Context, *leader.Term) error {
			r.add("elected %s", name)
			return electErr
		},
		OnDemoted: func(context.Context, *leader.Term, error) { r.add("demoted %s", name) },
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes (logs).
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testLogger returns a JSON logger writing to the returned buffer.
func testLogger() (hclog.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	return hclog.New(&hclog.LoggerOptions{Output: buf, JSONFormat: true, Level: hclog.Debug}), buf
}

// newRunner builds a Runner or fails the test.
func newRunner(t *testing.T, hs []hooks.Hook, opts ...hooks.Option) *hooks.Runner {
	t.Helper()
	r, err := hooks.NewRunner(hs, opts...)
	if err != nil {
		t.Fatalf("NewRunner: %v", err)
	}
	return r
}

// endTerm is a body that ends the term with reason, as the elector would,
// and returns nil.
func endTerm(cancel context.CancelCauseFunc, reason error) func(context.Context) error {
	return func(context.Context) error {
		cancel(reason)
		return nil
	}
}

// stragglers is the protocol the elector looks for in its leader work's
// error.
type stragglers interface {
	error
	Stragglers() []string
	Done() <-chan struct{}
}

// stragglersError is what the lifecycle supervisor returns when it gave up
// waiting for workers: done is closed when they have returned.
type stragglersError struct {
	names []string
	done  <-chan struct{}
}

func (e *stragglersError) Error() string         { return "stragglers: " + strings.Join(e.names, ",") }
func (e *stragglersError) Stragglers() []string  { return e.names }
func (e *stragglersError) Done() <-chan struct{} { return e.done }

// gate returns a channel and the func that closes it, once; the test's
// cleanup closes it too, so that nothing stays blocked on it if the test
// fails early.
func gate(t *testing.T) (<-chan struct{}, func()) {
	c := make(chan struct{})
	open := sync.OnceFunc(func() { close(c) })
	t.Cleanup(open)
	return c, open
}

// isClosed reports whether c is closed now.
func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// waitDone waits for c to be closed, or fails the test.
func waitDone(t *testing.T, what string, c <-chan struct{}) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// waitFor waits until cond holds (polling), or fails the test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(5 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
