package hold

import (
	"context"
	"sync"
	"testing"
	"time"
)

// fakeReads is a read function with a fixed round trip (or none: hang),
// that counts reads, answers and the most reads in flight at once.
type fakeReads struct {
	rtt                           time.Duration // 0: every read hangs until its ctx ends
	mu                            sync.Mutex
	sent, answered, live, maxLive int
	lastOK                        time.Time // send time of the newest answered read
	worstAge                      time.Duration
}

func (f *fakeReads) read(ctx context.Context, sent time.Time) error {
	f.mu.Lock()
	f.sent++
	f.live++
	f.maxLive = max(f.maxLive, f.live)
	f.mu.Unlock()
	defer func() { f.mu.Lock(); f.live--; f.mu.Unlock() }()
	if f.rtt == 0 {
		<-ctx.Done()
		return ctx.Err()
	}
	select {
	case <-time.After(f.rtt):
	case <-ctx.Done():
		return ctx.Err()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answered++
	if !f.lastOK.IsZero() {
		f.worstAge = max(f.worstAge, time.Since(f.lastOK))
	}
	if sent.After(f.lastOK) {
		f.lastOK = sent
	}
	return nil
}

// The confirmer sends one read per interval to a healthy Consul, fast or
// slow (no extra reads once it has seen the round trip), keeps
// confirmations coming from a slow one, and against hung reads sends a
// fresh one every gap with at most MaxInflight in flight.
func TestConfirmerPacing(t *testing.T) {
	const interval, gap, run = 500 * time.Millisecond, 50 * time.Millisecond, 2 * time.Second
	tests := []struct {
		name     string
		rtt      time.Duration
		maxReads int // over run
		align    bool
	}{
		{"fast", 5 * time.Millisecond, int(run/interval) + 1, false},
		{"slower than gap", 80 * time.Millisecond, int(run/interval) + 3, false},
		{"slow", 450 * time.Millisecond, int(run/interval) + MaxInflight, false}, // extras only until the first answer
		{"hung", 0, int(run/gap) + 1, false},
		{"aligned, as in a Group", 5 * time.Millisecond, int(run/interval) + 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeReads{rtt: tt.rtt}
			c := &Confirmer{Interval: interval, Gap: gap, Clock: RealClock{},
				Timeout: func() time.Duration { return 2 * time.Second }, Read: f.read}
			if tt.align {
				c.Align = time.Now().Add(-interval / 3) // another phase than the start's
			}
			ctx, cancel := context.WithTimeout(context.Background(), run)
			defer cancel()
			c.Run(ctx)
			f.mu.Lock()
			defer f.mu.Unlock()
			t.Logf("rtt %v: %d reads, %d answered, at most %d in flight, newest confirmation at most %v old at an answer",
				tt.rtt, f.sent, f.answered, f.maxLive, f.worstAge)
			if f.sent > tt.maxReads {
				t.Errorf("%d reads in %v, want at most %d", f.sent, run, tt.maxReads)
			}
			if f.maxLive > MaxInflight+1 { // a cancelled one may still be leaving
				t.Errorf("%d reads in flight, want at most %d", f.maxLive, MaxInflight+1)
			}
			if f.live != 0 {
				t.Errorf("%d reads still in flight after run returned", f.live)
			}
			if tt.rtt == 0 {
				return
			}
			if f.answered < int(run/interval)-1 {
				t.Errorf("%d reads answered, want a confirmation about every interval", f.answered)
			}
			if limit := interval + tt.rtt + gap; f.worstAge > limit+100*time.Millisecond {
				t.Errorf("confirmations %v apart, want at most interval + rtt (%v)", f.worstAge, limit)
			}
		})
	}
}
