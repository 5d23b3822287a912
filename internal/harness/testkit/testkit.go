// Package testkit holds the small helpers that the tests of several
// packages share (logs captured in memory, waiting on channels and
// conditions), so that they are written once.
package testkit

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Timeout bounds every wait of this package.
const Timeout = 5 * time.Second

// SyncBuffer is a bytes.Buffer safe for concurrent writes (logs).
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// JSONLogger returns a debug-level JSON logger that writes to the returned
// buffer.
func JSONLogger() (hclog.Logger, *SyncBuffer) {
	buf := &SyncBuffer{}
	return hclog.New(&hclog.LoggerOptions{Output: buf, JSONFormat: true, Level: hclog.Debug}), buf
}

// IsClosed reports whether c is closed now.
func IsClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// WaitClosed waits for c to be closed, or fails the test after Timeout.
func WaitClosed(t testing.TB, what string, c <-chan struct{}) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(Timeout):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// Eventually polls cond every millisecond until it holds, or fails the
// test after Timeout.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(Timeout)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
