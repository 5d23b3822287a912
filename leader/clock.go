package leader

import (
	"context"
	"time"
)

// clock is the time source. Every timing the elector decides on goes
// through it, so tests can inject one; deadlines use the monotonic reading
// that time.Now carries.
type clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) stopper
}

type stopper interface{ Stop() bool }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) stopper { return time.AfterFunc(d, f) }

// after returns a channel closed d from now on c (at once for d <= 0) and
// the timer, to stop when no longer waited for.
func after(c clock, d time.Duration) (<-chan struct{}, stopper) {
	fired := make(chan struct{})
	return fired, c.AfterFunc(max(d, 0), func() { close(fired) })
}

// sleep waits d or until ctx ends; it reports whether the full d elapsed.
func sleep(ctx context.Context, c clock, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	fired, t := after(c, d)
	defer t.Stop()
	select {
	case <-fired:
		return true
	case <-ctx.Done():
		return false
	}
}
