package main

import (
	"slices"
	"testing"
	"time"
)

// Synthetic ledgers for the checker: times in seconds from the run's start,
// DemoteAfter 2s, LockDelay 3s.

func sec(s float64) int64 { return int64(s * 1e9) }

func yes() *bool { b := true; return &b }

func runRec() record {
	return record{Ev: evRun, Mono: 0, Settings: &runSettings{DemoteAfter: int64(2 * time.Second), LockDelay: int64(3 * time.Second)}}
}

func startRec(id string, pid int, token uint64, at float64) record {
	return record{Ev: "start", Mono: sec(at), ID: id, PID: pid, Token: token, Session: id + "-s" + string(rune('0'+token%10))}
}

func endRec(id string, pid int, token uint64, at float64) record {
	return record{Ev: "end", Mono: sec(at), ID: id, PID: pid, Token: token, Reason: "test"}
}

// keyRec: the watcher saw the key at index held by the session of (id, token).
func keyRec(at float64, index uint64, id string, token uint64) record {
	return record{Ev: evKey, Mono: sec(at), Index: index, Exists: yes(), Session: id + "-s" + string(rune('0'+token%10))}
}

func writeRec(id string, pid int, token, seq uint64, at float64, result string) record {
	return record{Ev: "write", Mono: sec(at), Done: sec(at + 0.001), ID: id, PID: pid, Token: token, Seq: seq, Result: result}
}

func auditRec(id string, pid int, token, seq, index uint64) record {
	return record{Ev: evAudit, Mono: sec(100), ID: id, PID: pid, Token: token, Seq: seq, Index: index}
}

func TestChecker(t *testing.T) {
	tests := []struct {
		name       string
		recs       []record
		violations []string // kinds, in order
		stale      int      // stale windows that overlapped another leader
		operator   int      // operator windows that overlapped another leader
	}{
		{
			name: "handoff without overlap",
			recs: []record{runRec(),
				startRec("a", 1, 10, 1), endRec("a", 1, 10, 2), startRec("b", 2, 20, 2.001), endRec("b", 2, 20, 3)},
		},
		{
			name: "overlap detected",
			recs: []record{runRec(),
				startRec("a", 1, 10, 1), endRec("a", 1, 10, 2.5), startRec("b", 2, 20, 2), endRec("b", 2, 20, 3)},
			violations: []string{"overlap"},
		},
		{
			name: "overlap with a killed term, which ends when its process is reaped",
			recs: []record{runRec(),
				startRec("a", 1, 10, 1), {Ev: evKill, Mono: sec(2), Confirmed: sec(2.2), ID: "a", PID: 1},
				startRec("b", 2, 20, 2.1), endRec("b", 2, 20, 3)},
			violations: []string{"overlap"},
		},
		{
			name: "token regression detected",
			recs: []record{runRec(),
				startRec("a", 1, 20, 1), endRec("a", 1, 20, 2), startRec("b", 2, 10, 3), endRec("b", 2, 10, 4)},
			violations: []string{"token"},
		},
		{
			name: "paused time is not leading: no overlap, and not counted after the loss",
			recs: []record{runRec(),
				startRec("a", 1, 10, 1), keyRec(1, 10, "a", 10),
				{Ev: evStop, Mono: sec(1.9), Confirmed: sec(2), ID: "a", PID: 1},
				keyRec(3.5, 15, "", 0), // session invalidated while a is stopped
				startRec("b", 2, 20, 6.5), keyRec(6.5, 20, "b", 20), endRec("b", 2, 20, 7.5),
				{Ev: evCont, Mono: sec(8), ID: "a", PID: 1}, endRec("a", 1, 10, 8.001)},
		},
		{
			name: "stale window overlapping a successor, its fenced write rejected: allowed",
			recs: []record{runRec(),
				startRec("a", 1, 10, 1), keyRec(1, 10, "a", 10), writeRec("a", 1, 10, 1, 1.5, "accepted"), auditRec("a", 1, 10, 1, 11),
				{Ev: evStop, Mono: sec(2), Confirmed: sec(2), ID: "a", PID: 1},
				keyRec(3.5, 15, "", 0), startRec("b", 2, 20, 6.5), keyRec(6.5, 20, "b", 20),
				{Ev: evCont, Mono: sec(7), ID: "a", PID: 1},
				writeRec("a", 1, 10, 2, 7.0001, "rejected"), endRec("a", 1, 10, 7.001),
				endRec("b", 2, 20, 8), {Ev: evAuditDone, Mono: sec(100)}},
			stale: 1,
		},
		{
			name: "stale window with an accepted fenced write: flagged",
			recs: []record{runRec(),
				startRec("a", 1, 10, 1), keyRec(1, 10, "a", 10),
				{Ev: evStop, Mono: sec(2), Confirmed: sec(2), ID: "a", PID: 1},
				keyRec(3.5, 15, "", 0), startRec("b", 2, 20, 6.5), keyRec(6.5, 20, "b", 20),
				{Ev: evCont, Mono: sec(7), ID: "a", PID: 1},
				writeRec("a", 1, 10, 1, 7.0001, "accepted"), auditRec("a", 1, 10, 1, 25), endRec("a", 1, 10, 7.001),
				endRec("b", 2, 20, 8), {Ev: evAuditDone, Mono: sec(100)}},
			violations: []string{"fencing", "fencing"}, // in the window, and in raft order (25 > 20)
			stale:      1,
		},
		{
			name: "a lost answer resolved by the audit: applied after a later acquire",
			recs: []record{runRec(),
				startRec("a", 1, 10, 1), endRec("a", 1, 10, 2), startRec("b", 2, 20, 5), endRec("b", 2, 20, 6),
				writeRec("a", 1, 10, 7, 1.9, "unknown"), auditRec("a", 1, 10, 7, 21), {Ev: evAuditDone, Mono: sec(100)}},
			violations: []string{"fencing"},
		},
		{
			name: "term outlived its session by more than DemoteAfter",
			recs: []record{runRec(),
				startRec("a", 1, 10, 1), keyRec(1, 10, "a", 10), keyRec(2, 12, "", 0), endRec("a", 1, 10, 4.5)},
			violations: []string{"bound"},
		},
		{
			name: "operator delete: a short overlap in the operator window is allowed when fencing held",
			recs: []record{runRec(),
				startRec("a", 1, 10, 1), keyRec(1, 10, "a", 10),
				{Ev: evFault, Mono: sec(2), N: 1, Kind: kindDeleteKey, ID: "a", PID: 1, Token: 10},
				keyRec(2.001, 11, "", 0), startRec("b", 2, 20, 2.002), writeRec("a", 1, 10, 3, 2.0025, "rejected"),
				endRec("a", 1, 10, 2.003), endRec("b", 2, 20, 3), {Ev: evAuditDone, Mono: sec(100)}},
			operator: 1,
		},
		{
			name: "an overlap outside the operator's delete is still an overlap",
			recs: []record{runRec(),
				startRec("a", 1, 10, 1), {Ev: evFault, Mono: sec(2), N: 1, Kind: kindDeleteKey, ID: "a", PID: 1, Token: 10},
				startRec("b", 2, 20, 1.5), endRec("a", 1, 10, 2.003), endRec("b", 2, 20, 3)},
			violations: []string{"overlap"},
			operator:   1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := buildHistory(tt.recs)
			if err != nil {
				t.Fatal(err)
			}
			v := check(h)
			var got []string
			for _, x := range v.violations {
				got = append(got, x.kind)
				t.Log(x.kind, x.msg)
			}
			if !slices.Equal(got, tt.violations) {
				t.Errorf("violations %q, want %q", got, tt.violations)
			}
			if ws := windowsOf(h, "stale"); ws.overlapping != tt.stale {
				t.Errorf("%d stale windows overlapped another leader, want %d", ws.overlapping, tt.stale)
			}
			if ws := windowsOf(h, "operator"); ws.overlapping != tt.operator {
				t.Errorf("%d operator windows overlapped another leader, want %d", ws.overlapping, tt.operator)
			}
		})
	}
}

func TestSpans(t *testing.T) {
	tests := []struct {
		name       string
		a, b, want spans
		op         func(a, b spans) spans
	}{
		{"minus middle", spans{{0, 10}}, spans{{3, 5}}, spans{{0, 3}, {5, 10}}, spans.minus},
		{"minus all", spans{{3, 5}}, spans{{0, 10}}, nil, spans.minus},
		{"minus two holes", spans{{0, 10}, {20, 30}}, spans{{5, 22}, {25, 26}}, spans{{0, 5}, {22, 25}, {26, 30}}, spans.minus},
		{"intersect", spans{{0, 10}, {20, 30}}, spans{{5, 25}}, spans{{5, 10}, {20, 25}}, spans.intersect},
		{"touching is empty", spans{{0, 10}}, spans{{10, 20}}, nil, spans.intersect},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.op(tt.a, tt.b); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
