package main

import (
	"bytes"
	"strings"
	"testing"
)

// The run's timeline has a lane per candidate, the terms with their
// tokens, the fault, the SIGSTOP, and the writes with their outcomes.
func TestTimelineOfARun(t *testing.T) {
	recs := []record{runRec(),
		{Ev: evSpawn, Mono: sec(0.1), ID: "a", PID: 1}, {Ev: evSpawn, Mono: sec(0.1), ID: "b", PID: 2},
		startRec("a", 1, 10, 1),
		writeRec("a", 1, 10, 1, 2, "accepted"),
		{Ev: evFault, Mono: sec(5), N: 1, Kind: kindPauseLong, ID: "a", PID: 1, Token: 10, Detail: "SIGSTOP for 4s"},
		{Ev: evStop, Mono: sec(5), Confirmed: sec(5.001), ID: "a", PID: 1},
		startRec("b", 2, 20, 8),
		{Ev: evCont, Mono: sec(9), ID: "a", PID: 1},
		{Ev: evHeal, Mono: sec(9), N: 1},
		writeRec("a", 1, 10, 2, 9.01, "rejected"),
		endRec("a", 1, 10, 9.02),
		endRec("b", 2, 20, 20),
		{Ev: evEndRun, Mono: sec(20)},
	}
	h, err := buildHistory(recs)
	if err != nil {
		t.Fatal(err)
	}
	p := timelineOf(h, check(h), runMeta{seed: 7, candidates: 2})
	if len(p.Lanes) != 2 || p.Lanes[0].Name != "a" || p.Lanes[1].Name != "b" {
		t.Fatalf("lanes %+v, want a and b", p.Lanes)
	}
	if len(p.Faults) != 1 || p.Faults[0].Kind != kindPauseLong || p.Faults[0].To-p.Faults[0].From != 4e9 {
		t.Fatalf("faults %+v", p.Faults)
	}
	var b bytes.Buffer
	if err := p.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{"leader token 10", "leader token 20", "stopped (SIGSTOP)", "fenced write 1 of token 10: accepted",
		"fenced write 2 of token 10: rejected", "fault 1: pause-leader-long on a (token 10): SIGSTOP for 4s", "from 5.000s to 9.000s"} {
		if !strings.Contains(page, want) {
			t.Errorf("timeline lacks %q", want)
		}
	}
}
