package main

import (
	"testing"
	"time"
)

// Availability as users feel it leaves out each fault's own failover but
// not a gap that no fault explains; a fault whose term survived excuses
// nothing.
func TestFeltAvailability(t *testing.T) {
	recs := []record{runRec(),
		startRec("a", 1, 10, 1),
		{Ev: evFault, Mono: sec(5), N: 1, Kind: kindKillLeader, ID: "a", PID: 1, Token: 10},
		endRec("a", 1, 10, 5),
		startRec("b", 2, 20, 8), // failover 3s: excused
		{Ev: evFault, Mono: sec(10), N: 2, Kind: kindDropConns, ID: "b", PID: 2, Token: 20}, // kept: excuses nothing
		endRec("b", 2, 20, 20),
		startRec("c", 3, 30, 22), // 2s without a leader and without a fault
		endRec("c", 3, 30, 45),
		{Ev: evEndRun, Mono: sec(45)},
	}
	h, err := buildHistory(recs)
	if err != nil {
		t.Fatal(err)
	}
	share, longest := felt(h)
	// [5, 45] is 40s; the failover [5, 8] is left out: 37s, 35s of them led.
	if want := 35.0 / 37.0; share < want-1e-9 || share > want+1e-9 {
		t.Errorf("share %.4f, want %.4f", share, want)
	}
	if longest.dur() != 2*time.Second {
		t.Errorf("unexplained gap %v, want 2s", longest.dur())
	}
	st := unexplained(h)
	if len(st) != 1 || st[0].dur() != 2*time.Second || st[0].fault == nil || st[0].fault.n != 2 || st[0].ended == nil || st[0].ended.id != "b" {
		t.Errorf("unexplained stretches %+v, want one of 2s after fault 2 and b's term", st)
	}
	whole, _, _ := availability(h)
	if whole >= share {
		t.Errorf("the whole-run share %.4f should be below the felt one %.4f", whole, share)
	}
}
