package leader_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/leader"
)

// A process pause of 0.5s costs a leader nothing (docs/safety.md,
// "Choosing the defaults": it survives 2*CheckTTL/3 = 0.8s), also at the
// worst moment: just before its next check pass is due, so that the pause
// delays that pass the most. The leader process is SIGSTOPped then; its
// term and session must survive.
func TestPauseAtTheWorstMoment(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	proxy := consultest.NewFaultProxy(t, srv.HTTPAddr)
	const key = "svc/pause"
	p := startCandidate(t, proxy.Addr(), "-key", key, "-id", "paused")
	elected := p.waitLine(t, "elected", 10*time.Second)
	passes := consultest.Match{Method: "PUT", Path: "/v1/agent/check/update/"}
	beat := leader.DefaultCheckTTL / 3
	const pause = 500 * time.Millisecond
	for trial := 0; trial < 3; trial++ {
		// Wait for a pass to go out, then pause just before the next one.
		n := proxy.Count(passes)
		waitFor(t, 2*beat, "a check pass", func() bool { return proxy.Count(passes) > n })
		time.Sleep(beat - 20*time.Millisecond) // the fault's timing, not synchronisation
		p.signal(t, syscall.SIGSTOP)
		time.Sleep(pause) // the pause's length
		p.signal(t, syscall.SIGCONT)
		if p.tryLine("demoted", leader.DefaultCheckTTL+leader.DefaultLockDelay) {
			t.Fatalf("trial %d: a %v pause before a check pass ended the term (elected as %q)", trial, pause, elected)
		}
	}
	h, err := leader.Lookup(context.Background(), srv.Client(t), key)
	if err != nil || h == nil || h.ID != "paused" {
		t.Fatalf("holder after the pauses: %+v, %v", h, err)
	}
}
