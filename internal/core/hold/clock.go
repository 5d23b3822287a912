package hold

import (
	"context"
	"time"
)

// Clock is the time source. Every timing a hold decides on goes
// through it, so tests can inject one; deadlines use the monotonic reading
// that time.Now carries.
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) Stopper
}

// Stopper stops a timer (time.Timer's Stop).
type Stopper interface{ Stop() bool }

// RealClock is the time package.
type RealClock struct{}

// Now is time.Now.
func (RealClock) Now() time.Time { return time.Now() }

// AfterFunc is time.AfterFunc.
func (RealClock) AfterFunc(d time.Duration, f func()) Stopper { return time.AfterFunc(d, f) }

// After returns a channel closed d from now on c (at once for d <= 0) and
// the timer, to stop when no longer waited for.
func After(c Clock, d time.Duration) (<-chan struct{}, Stopper) {
	fired := make(chan struct{})
	return fired, c.AfterFunc(max(d, 0), func() { close(fired) })
}

// Sleep waits d or until ctx ends; it reports whether the full d elapsed.
func Sleep(ctx context.Context, c Clock, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	fired, t := After(c, d)
	defer t.Stop()
	select {
	case <-fired:
		return true
	case <-ctx.Done():
		return false
	}
}
