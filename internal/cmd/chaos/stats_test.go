package main

import (
	"slices"
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

// A fault's own window also covers the fault itself (a paused leader that
// keeps its term leads nobody meanwhile) and a term that began during the
// fault and ended before it settled (an aftershock of the heal); a term
// ended later is not the fault's.
func TestFeltAvailabilityFaultWindows(t *testing.T) {
	recs := []record{runRec(),
		startRec("a", 1, 10, 1),
		{Ev: evFault, Mono: sec(5), N: 1, Kind: kindPauseShort, ID: "a", PID: 1, Token: 10},
		{Ev: evStop, Mono: sec(5), Confirmed: sec(5), ID: "a", PID: 1},
		{Ev: evCont, Mono: sec(6), ID: "a", PID: 1},
		{Ev: evHeal, Mono: sec(6), N: 1},
		endRec("a", 1, 10, 12), // after 6 + DemoteAfter 2s + LockDelay 3s: 1s unexplained
		startRec("b", 2, 20, 13),
		{Ev: evFault, Mono: sec(20), N: 2, Kind: kindIsolateHost, ID: "b", PID: 2, Token: 20},
		endRec("b", 2, 20, 22),
		startRec("c", 3, 30, 25), // failover: excused
		{Ev: evHeal, Mono: sec(27), N: 2},
		endRec("c", 3, 30, 28),   // before 27 + DemoteAfter 2s + LockDelay 3s: an aftershock
		startRec("a", 1, 40, 31), // excused
		endRec("a", 1, 40, 40),   // after it settled: unexplained
		startRec("b", 2, 50, 42),
		endRec("b", 2, 50, 50),
		{Ev: evEndRun, Mono: sec(50)},
	}
	h, err := buildHistory(recs)
	if err != nil {
		t.Fatal(err)
	}
	share, gaps, aftershocks := feltGaps(h)
	// [5, 50] is 45s; left out: the pause [5, 6], the isolation [20, 27]
	// (its failover [20, 25] within it) and the aftershock [28, 31]: 34s,
	// 31s of them led.
	if want := 31.0 / 34.0; share < want-1e-9 || share > want+1e-9 {
		t.Errorf("share %.4f, want %.4f", share, want)
	}
	if want := (spans{{sec(12), sec(13)}, {sec(40), sec(42)}}); !slices.Equal(gaps, want) {
		t.Errorf("unexplained stretches %v, want %v", gaps, want)
	}
	if len(aftershocks) != 1 || aftershocks[0].token != 30 {
		t.Errorf("aftershocks %v, want c's term (token 30)", aftershocks)
	}
	// Counted against the library, the aftershock's [28, 31] is back in.
	if strict, _, _ := feltWith(h, false); strict < 31.0/37.0-1e-9 || strict > 31.0/37.0+1e-9 {
		t.Errorf("share with the aftershocks counted %.4f, want %.4f", strict, 31.0/37.0)
	}
}
