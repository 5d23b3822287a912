package main

import (
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
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

// Lock holds, as the candidates' lock loops log them.

func lockRunRec() record {
	r := runRec()
	r.Settings.LockKey, r.Settings.SemPrefix, r.Settings.SemLimit = "chaos/lock", "chaos/sem", 2
	return r
}

func holdRec(use, id string, pid int, token uint64, at float64) record {
	return record{Ev: "hold", Use: use, Mono: sec(at), ID: id, PID: pid, Token: token, Session: id + "-ls"}
}

func releaseRec(use, id string, pid int, token uint64, at float64) record {
	return record{Ev: "release", Use: use, Mono: sec(at), ID: id, PID: pid, Token: token, Session: id + "-ls", Reason: "done"}
}

// lockKeyRec: the watcher saw the mutex's key at index held by the lock
// session of id ("": by none).
func lockKeyRec(at float64, index uint64, id string) record {
	r := record{Ev: evKey, Use: useMutex, Mono: sec(at), Index: index, Exists: yes()}
	if id != "" {
		r.Session = id + "-ls"
	}
	return r
}

// semKeyRec: the watcher saw the semaphore's prefix at index with the
// live holders of ids.
func semKeyRec(at float64, index uint64, ids ...string) record {
	r := record{Ev: evKey, Use: useSemaphore, Mono: sec(at), Index: index, Exists: yes()}
	for _, id := range ids {
		r.Holders = append(r.Holders, id+"-ls")
	}
	return r
}

// leading is recs with an election term over the whole test, and a late
// hold of each lock by another process, so that the liveness checks pass.
func leading(recs ...record) []record {
	return append([]record{lockRunRec(), startRec("e", 9, 1, 0.1), endRec("e", 9, 1, 99),
		holdRec(useMutex, "z", 8, 1000, 50), releaseRec(useMutex, "z", 8, 1000, 50.1),
		holdRec(useSemaphore, "z", 8, 1001, 50), releaseRec(useSemaphore, "z", 8, 1001, 50.1)}, recs...)
}

func TestLockChecker(t *testing.T) {
	const m, s = useMutex, useSemaphore
	tests := []struct {
		name       string
		recs       []record
		violations []string // kinds, in order
		stale      map[string]int
		maxActive  map[string]int
	}{
		{
			name: "mutex handoffs and semaphore holds within the limit",
			recs: leading(
				holdRec(m, "a", 1, 10, 1), releaseRec(m, "a", 1, 10, 1.1), holdRec(m, "b", 2, 12, 1.1), releaseRec(m, "b", 2, 12, 1.3),
				holdRec(s, "a", 1, 11, 1), holdRec(s, "b", 2, 13, 1.05), releaseRec(s, "a", 1, 11, 1.2),
				holdRec(s, "c", 3, 14, 1.2), releaseRec(s, "b", 2, 13, 1.3), releaseRec(s, "c", 3, 14, 1.4)),
			maxActive: map[string]int{m: 1, s: 2},
		},
		{
			name: "two mutex holders overlapping",
			recs: leading(
				holdRec(m, "a", 1, 10, 1), holdRec(m, "b", 2, 12, 1.05), releaseRec(m, "a", 1, 10, 1.1), releaseRec(m, "b", 2, 12, 1.3)),
			violations: []string{"mutex-overlap"},
			maxActive:  map[string]int{m: 2},
		},
		{
			name: "three semaphore holders with limit 2",
			recs: leading(
				holdRec(s, "a", 1, 10, 1), holdRec(s, "b", 2, 11, 1.01), holdRec(s, "c", 3, 12, 1.05),
				releaseRec(s, "a", 1, 10, 1.1), releaseRec(s, "b", 2, 11, 1.2), releaseRec(s, "c", 3, 12, 1.3)),
			violations: []string{"semaphore-overlap"},
			maxActive:  map[string]int{s: 3},
		},
		{
			name: "a mutex hold ends when its SIGKILLed process is reaped",
			recs: leading(
				holdRec(m, "a", 1, 10, 1), record{Ev: evKill, Mono: sec(2), Confirmed: sec(2.2), ID: "a", PID: 1},
				holdRec(m, "b", 2, 12, 2.1), releaseRec(m, "b", 2, 12, 2.3)),
			violations: []string{"mutex-overlap"},
		},
		{
			name: "mutex overlap inside a stale window (SIGSTOP longer than DemoteAfter) is excused",
			recs: leading(
				holdRec(m, "a", 1, 10, 1), lockKeyRec(1, 10, "a"),
				record{Ev: evStop, Mono: sec(1.05), Confirmed: sec(1.05), ID: "a", PID: 1},
				lockKeyRec(2.2, 11, ""), holdRec(m, "b", 2, 12, 4.8), lockKeyRec(4.8, 12, "b"),
				record{Ev: evCont, Mono: sec(5), ID: "a", PID: 1}, releaseRec(m, "a", 1, 10, 5.001), releaseRec(m, "b", 2, 12, 5.1)),
			stale:     map[string]int{m: 1},
			maxActive: map[string]int{m: 1},
		},
		{
			name: "semaphore overlap inside a stale window (slot lost while stopped) is excused",
			recs: leading(
				holdRec(s, "a", 1, 10, 1), holdRec(s, "b", 2, 11, 1), semKeyRec(1, 11, "a", "b"),
				record{Ev: evStop, Mono: sec(1.1), Confirmed: sec(1.1), ID: "a", PID: 1},
				semKeyRec(2.2, 12, "b"), // a's session invalidated while it is stopped
				record{Ev: evCont, Mono: sec(2.5), ID: "a", PID: 1},
				holdRec(s, "c", 3, 13, 2.49), releaseRec(s, "a", 1, 10, 2.501), releaseRec(s, "b", 2, 11, 2.6), releaseRec(s, "c", 3, 13, 2.7)),
			stale:     map[string]int{s: 1},
			maxActive: map[string]int{s: 2},
		},
		{
			name: "a stale window does not excuse the other holders: three live semaphore holders still fail",
			recs: leading(
				holdRec(s, "a", 1, 10, 1), semKeyRec(1, 10, "a"),
				record{Ev: evStop, Mono: sec(1.1), Confirmed: sec(1.1), ID: "a", PID: 1},
				record{Ev: evCont, Mono: sec(4), ID: "a", PID: 1},
				holdRec(s, "b", 2, 11, 3), holdRec(s, "c", 3, 12, 3), holdRec(s, "d", 4, 13, 3.9),
				releaseRec(s, "a", 1, 10, 4.001), releaseRec(s, "b", 2, 11, 4.1), releaseRec(s, "c", 3, 12, 4.1), releaseRec(s, "d", 4, 13, 4.1)),
			violations: []string{"semaphore-overlap"},
			stale:      map[string]int{s: 1},
		},
		{
			name: "a hold logged after a long SIGSTOP that it was acquired before: stale from its start",
			recs: leading(
				holdRec(m, "b", 2, 8, 0.5), releaseRec(m, "b", 2, 8, 0.9),
				record{Ev: evStop, Mono: sec(1), Confirmed: sec(1), ID: "a", PID: 1}, lockKeyRec(1.001, 10, "a"),
				lockKeyRec(2.2, 11, ""), holdRec(m, "b", 2, 12, 4.8),
				record{Ev: evCont, Mono: sec(5), ID: "a", PID: 1}, holdRec(m, "a", 1, 10, 5.0001), releaseRec(m, "a", 1, 10, 5.001),
				releaseRec(m, "b", 2, 12, 5.1)),
			stale: map[string]int{m: 1}, // and its token (10, logged after b's 12) is not a regression
		},
		{
			name: "mutex token regression",
			recs: leading(
				holdRec(m, "a", 1, 20, 1), releaseRec(m, "a", 1, 20, 1.1), holdRec(m, "b", 2, 12, 1.2), releaseRec(m, "b", 2, 12, 1.3)),
			violations: []string{"mutex-token"},
		},
		{
			name: "semaphore tokens: out of start order across processes is fine, a reused token or a regression in one process is not",
			recs: leading(
				holdRec(s, "a", 1, 20, 1), holdRec(s, "b", 2, 12, 1.01), releaseRec(s, "a", 1, 20, 1.1), releaseRec(s, "b", 2, 12, 1.1),
				holdRec(s, "c", 3, 12, 1.2), releaseRec(s, "c", 3, 12, 1.3),
				holdRec(s, "a", 1, 15, 1.4), releaseRec(s, "a", 1, 15, 1.5)),
			violations: []string{"semaphore-token", "semaphore-token"},
		},
		{
			name: "a mutex hold that outlived its lock by more than DemoteAfter",
			recs: leading(
				holdRec(m, "a", 1, 10, 1), lockKeyRec(1, 10, "a"), lockKeyRec(1.5, 11, ""), releaseRec(m, "a", 1, 10, 4)),
			violations: []string{"mutex-bound"},
		},
		{
			name:       "locks configured but never held",
			recs:       []record{lockRunRec(), startRec("e", 9, 1, 0.1), endRec("e", 9, 1, 99)},
			violations: []string{"mutex-liveness", "semaphore-liveness"},
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
			for _, r := range []*resource{h.mutex, h.sem} {
				if ws := windowsIn(r, "stale"); ws.overlapping != tt.stale[r.use] {
					t.Errorf("%d %s stale windows overlapped holders beyond the limit, want %d", ws.overlapping, r.use, tt.stale[r.use])
				}
				if want, ok := tt.maxActive[r.use]; ok && v.of(r).maxActive != want {
					t.Errorf("%s: at most %d holders at once, want %d", r.use, v.of(r).maxActive, want)
				}
			}
			if t.Failed() {
				t.Log(report(h, v, runMeta{}))
			}
		})
	}
}

func TestSemHolders(t *testing.T) {
	pairs := api.KVPairs{
		{Key: "p/.lock", Value: []byte(`{"Limit":2,"Holders":{"s1":true,"s2":true,"s3":true}}`)},
		{Key: "p/s1", Session: "s1"},
		{Key: "p/s2", Session: ""},   // its session is gone: not alive
		{Key: "p/s4", Session: "s4"}, // a waiter
		{Key: "p/s3/x", Session: "s3"},
	}
	if got, want := semHolders("p", pairs), []string{"s1"}; !slices.Equal(got, want) {
		t.Errorf("semHolders = %q, want %q", got, want)
	}
}
