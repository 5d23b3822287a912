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
	fs := feltOf(h)
	share, longest := fs.share, fs.gaps.longest()
	// [5, 45] is 40s; the failover [5, 8] is left out: 37s, 35s of them led.
	if want := 35.0 / 37.0; share < want-1e-9 || share > want+1e-9 {
		t.Errorf("share %.4f, want %.4f", share, want)
	}
	if longest.dur() != 2*time.Second {
		t.Errorf("unexplained gap %v, want 2s", longest.dur())
	}
	st := unexplained(h, fs.gaps)
	if len(st) != 1 || st[0].dur() != 2*time.Second || st[0].fault == nil || st[0].fault.n != 2 || st[0].ended == nil || st[0].ended.id != "b" {
		t.Errorf("unexplained stretches %+v, want one of 2s after fault 2 and b's term", st)
	}
	whole, _, _ := availability(h)
	if whole >= share {
		t.Errorf("the whole-run share %.4f should be below the felt one %.4f", whole, share)
	}
}

// A fault's own window also covers the fault itself (a paused leader that
// keeps its term leads nobody meanwhile) and its aftershocks (a term that
// began during the fault, before its heal, and ended before it settled),
// for one lock-delay (+ the scheduling allowance) after each; a term that
// began after the heal is not the fault's.
func TestFeltAvailabilityFaultWindows(t *testing.T) {
	recs := []record{
		{Ev: evRun, Settings: &runSettings{DemoteAfter: int64(2 * time.Second), LockDelay: int64(3 * time.Second), CheckTTL: int64(time.Second)}},
		startRec("a", 1, 10, 1),
		{Ev: evFault, Mono: sec(5), N: 1, Kind: kindPauseShort, ID: "a", PID: 1, Token: 10},
		{Ev: evStop, Mono: sec(5), Confirmed: sec(5), ID: "a", PID: 1},
		{Ev: evCont, Mono: sec(6), ID: "a", PID: 1},
		{Ev: evHeal, Mono: sec(6), N: 1}, // a's term is kept
		{Ev: evFault, Mono: sec(20), N: 2, Kind: kindIsolateHost, ID: "a", PID: 1, Token: 10},
		endRec("a", 1, 10, 22),
		startRec("b", 2, 20, 25), // the failover
		{Ev: evHeal, Mono: sec(27), N: 2},
		endRec("b", 2, 20, 28),   // an aftershock: began before the heal, ended by 27 + 2 + 1 + 3
		startRec("c", 3, 30, 33), // 5s later: 3.25s excused, 1.75s unexplained
		{Ev: evFault, Mono: sec(40), N: 3, Kind: kindPauseShort, ID: "c", PID: 3, Token: 30},
		{Ev: evStop, Mono: sec(40), Confirmed: sec(40), ID: "c", PID: 3},
		{Ev: evCont, Mono: sec(40.5), ID: "c", PID: 3},
		{Ev: evHeal, Mono: sec(40.5), N: 3},
		endRec("c", 3, 30, 41),
		startRec("a", 1, 40, 42), // the failover
		endRec("a", 1, 40, 43),   // began after the heal: not an aftershock, 1s unexplained
		startRec("b", 2, 50, 44),
		endRec("b", 2, 50, 50),
		{Ev: evEndRun, Mono: sec(50)},
	}
	h, err := buildHistory(recs)
	if err != nil {
		t.Fatal(err)
	}
	fs := feltOf(h)
	// [5, 50] is 45s. Left out: the pause [5, 6], the isolation [20, 27]
	// (its failover [20, 25] within it), the second pause and its failover
	// [40, 42]: 35s, 29s of them led. And the aftershock's [28, 31.25]:
	// 31.75s.
	near := func(got, want float64) bool { return got > want-1e-9 && got < want+1e-9 }
	if want := 29.0 / 31.75; !near(fs.share, want) {
		t.Errorf("share %.4f, want %.4f", fs.share, want)
	}
	if want := 29.0 / 35.0; !near(fs.strict, want) {
		t.Errorf("share with the aftershocks counted %.4f, want %.4f", fs.strict, want)
	}
	if want := (spans{{sec(31.25), sec(33)}, {sec(43), sec(44)}}); !slices.Equal(fs.gaps, want) {
		t.Errorf("unexplained stretches %v, want %v", fs.gaps, want)
	}
	if len(fs.aftershocks) != 1 || fs.aftershocks[0].term.token != 20 || fs.aftershocks[0].gap != (span{sec(28), sec(33)}) {
		t.Errorf("aftershocks %+v, want b's term (token 20) and the stretch [28, 33] after it", fs.aftershocks)
	}
}
