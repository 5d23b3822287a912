package hold

import (
	"errors"
	"testing"
	"time"
)

// stepClock is a Clock whose time the test moves.
type stepClock struct{ now time.Time }

func (c *stepClock) Now() time.Time { return c.now }

func (c *stepClock) AfterFunc(d time.Duration, f func()) Stopper { return time.AfterFunc(d, f) }

func TestJudge(t *testing.T) {
	c := &stepClock{now: time.Unix(1000, 0)}
	sent := c.now
	for _, tt := range []struct {
		name string
		late time.Duration // how long after sent the answer came
		out  Outcome
		err  error
		want Step
	}{
		{name: "error", err: errors.New("connection refused"), want: StepRetry},
		{name: "refused with Consul's words", out: Refused, err: errors.New("bad op"), want: StepRetry},
		{name: "acquired in time", out: Acquired, late: time.Second, want: StepHold},
		{name: "acquired at the deadline", out: Acquired, late: 2 * time.Second, want: StepStale},
		{name: "acquired past the deadline", out: Acquired, late: 3 * time.Second, want: StepStale},
		{name: "session gone", out: SessionGone, want: StepNewSession},
		{name: "lock-delay", out: LockDelayed, want: StepLockDelay},
		{name: "held by another", out: HeldByOther, want: StepNotAcquired},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c.now = sent.Add(tt.late)
			if got := Judge(c, sent, 2*time.Second, tt.out, tt.err); got != tt.want {
				t.Errorf("Judge = %d, want %d", got, tt.want)
			}
		})
	}
}

// A lock-delay as long as ours is waited out on time; a longer one (a
// foreign client's) in steps that double up to LockDelay/10, so the
// waiter is at most that late, with a bounded number of requests.
func TestLockDelayWait(t *testing.T) {
	const ours = 2600 * time.Millisecond
	for _, tt := range []struct {
		name     string
		theirs   time.Duration // the lock-delay in force, from the free read
		maxLate  time.Duration
		maxTries int
	}{
		// On time but for the free read's lag behind the invalidation
		// (100ms here): what a waiter cannot know.
		{name: "ours", theirs: ours, maxLate: 100*time.Millisecond + lockDelaySlack, maxTries: 1},
		{name: "api.Lock's 15s", theirs: 15 * time.Second, maxLate: ours / 10, maxTries: 60},
		{name: "Consul's limit, 60s", theirs: 60 * time.Second, maxLate: ours / 10, maxTries: 250},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := &stepClock{now: time.Unix(1000, 0)}
			w := &LockDelayWait{LockDelay: ours, Clock: c}
			freed := c.now.Add(-100 * time.Millisecond) // invalidated before the read
			w.Free(c.now)
			w.Free(c.now.Add(time.Second)) // later reads do not move the start
			ends := freed.Add(tt.theirs)
			tries := 0
			for {
				c.now = c.now.Add(5 * time.Millisecond) // the refused acquire's round trip
				if !c.now.Before(ends) {
					break
				}
				tries++
				d := w.Next()
				if d <= 0 {
					t.Fatalf("try %d: wait %v", tries, d)
				}
				c.now = c.now.Add(d)
			}
			if late := c.now.Sub(ends); late > tt.maxLate+5*time.Millisecond {
				t.Errorf("acquired %v after the lock-delay ended, want at most %v", late, tt.maxLate)
			}
			if tries > tt.maxTries {
				t.Errorf("%d refused acquires, want at most %d", tries, tt.maxTries)
			}
			t.Logf("lock-delay %v: %d refused acquires, acquired %v after it ended", tt.theirs, tries, c.now.Sub(ends))
		})
	}
	// A key seen held starts a new run: the next free read counts.
	c := &stepClock{now: time.Unix(1000, 0)}
	w := &LockDelayWait{LockDelay: ours, Clock: c}
	w.Free(c.now)
	c.now = c.now.Add(10 * time.Second)
	w.Taken()
	w.Free(c.now)
	if d := w.Next(); d != ours+lockDelaySlack {
		t.Errorf("after Taken, Next = %v, want %v", d, ours+lockDelaySlack)
	}
}
