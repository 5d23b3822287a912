package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// runMeta is what the report says about the run besides the ledgers.
type runMeta struct {
	seed          int64
	faultsAsked   int
	candidates    int
	elapsed       time.Duration
	interrupted   bool
	runErr        error
	machine       string // uname -sm, nproc
	goVersion     string
	consulVersion string
	netns         bool   // hosts and servers in network namespaces
	netnsWhy      string // why not, otherwise
}

// report renders the checker's verdict and the run's statistics as markdown.
func report(h *history, v *verdict, m runMeta) string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	status := "PASS"
	if len(v.violations) > 0 {
		status = fmt.Sprintf("FAIL: %d safety violations", len(v.violations))
	}
	w("### Chaos run: %s\n\n", status)
	w("%d faults injected (%d asked) on %d candidates in %s, seed %d (replay the schedule: `go run ./internal/harness/cmd/chaos -faults %d -seed %d`).",
		len(h.faults), m.faultsAsked, m.candidates, m.elapsed.Round(time.Second), m.seed, m.faultsAsked, m.seed)
	if m.interrupted {
		w(" **Interrupted before the end.**")
	}
	if m.runErr != nil {
		w(" **The harness stopped early: %v.**", m.runErr)
	}
	w("\n\n")
	fs := feltOf(h)
	checksTable(w, h, v, fs)
	for _, u := range h.unexpected {
		w("\n- unexpected exit: %s", u)
	}
	if len(v.violations) > 0 {
		w("\n**Violations:**\n\n")
		for i, x := range v.violations {
			w("%d. %s: %s\n", i+1, x.kind, x.msg)
		}
	}
	faultsTable(w, h)
	stretchesTable(w, h, fs)
	setup(w, h, m)
	return b.String()
}

func checksTable(w func(string, ...any), h *history, v *verdict, fs feltStats) {
	count := func(kind string) int {
		n := 0
		for _, x := range v.violations {
			if x.kind == kind {
				n++
			}
		}
		return n
	}
	yes := func(kind string) string {
		if n := count(kind); n > 0 {
			return fmt.Sprintf("**NO: %d violations**", n)
		}
		return "yes"
	}
	limit := time.Duration(h.settings.DemoteAfter) + schedulingAllowance
	w("| check | result |\n|---|---|\n")
	w("| overlapping terms of two candidates, outside the windows below | **%d** |\n", count("overlap"))
	w("| fencing tokens strictly increase across terms, in start order | %s (%d terms) |\n", yes("token"), len(h.elect.terms))
	m := v.of(h.elect)
	w("| a term ends within DemoteAfter + %s = %s of running time after its session stopped holding the key | %s (%d terms whose loss the watcher saw first; longest %s) |\n",
		fmtDur(schedulingAllowance), fmtDur(limit), yes("bound"), m.boundChecked, longestAfterLoss(m))
	wc := writeCounts(h)
	accepted := len(h.audit)
	w("| no fenced write applied after a later term acquired the key (raft order) | %s (%d writes applied, %d rejected by Consul, %d answers lost: not applied) |\n",
		yes("fencing"), accepted, wc["rejected"], wc["not-applied"])
	for _, kind := range []string{"stale", "operator"} {
		ws := windowsOf(h, kind)
		label := "stale-leader windows (SIGCONT after a long SIGSTOP, or after the session lost the key, until the candidate saw its context cancelled)"
		if kind == "operator" {
			label = "operator windows (key deleted, until the holder's term ended)"
		}
		w("| %s | %d, longest %s; %d overlapped another leader (longest overlap %s); fenced writes sent in them: %s; in the overlapping ones: %s |\n",
			label, ws.count, fmtDur(ws.longest), ws.overlapping, fmtDur(ws.longestOverlap), outcomes(ws.writes), outcomes(ws.overlapWrites))
	}
	lockRows(w, h, v, yes)
	w("| candidate processes that exited without being told to | %d |\n", len(h.unexpected))
	share, window, gap := availability(h)
	w("| availability: share of the run (first fault to the end) with a leader | %.1f%% of %s; longest gap %s |\n",
		100*share, fmtDur(window.dur()), fmtDur(gap.dur()))
	w("| availability as users feel it: the same, leaving out each fault's own window (the fault, its failover, its aftershocks; goal ≥ 99.9%%) | %.2f%% (%.2f%% with the aftershocks counted against the library); longest leaderless stretch no fault explains %s |\n",
		100*fs.share, 100*fs.strict, fmtDur(fs.gaps.longest().dur()))
}

// lockRows are the checks of the mutex and the semaphore, when the run
// took them.
func lockRows(w func(string, ...any), h *history, v *verdict, yes func(kind string) string) {
	limit := time.Duration(h.settings.DemoteAfter) + schedulingAllowance
	for _, r := range []*resource{h.mutex, h.sem} {
		var name, tokens, holders string
		switch {
		case r == h.mutex && h.settings.LockKey != "":
			name, holders = fmt.Sprintf("mutex `%s`", h.settings.LockKey), "1 holder"
			tokens = "fencing tokens strictly increase across holds, in start order"
		case r == h.sem && h.settings.SemPrefix != "":
			name, holders = fmt.Sprintf("semaphore `%s` (limit %d)", h.settings.SemPrefix, r.limit), fmt.Sprintf("%d holders", r.limit)
			tokens = "fencing tokens distinct, and increasing across each process's holds"
		default:
			continue // not taken in this run
		}
		m := v.of(r)
		excused := ""
		if m.excused > 0 {
			excused = fmt.Sprintf("; over the limit only with stale holders counted, for %s in all", fmtDur(m.excused))
		}
		w("| %s: at most %s at any moment, outside stale windows | %s (%d holds: %s; most at once %d, %d counting stale holders%s) |\n",
			name, holders, yes(r.kind("overlap")), len(r.terms), holdEnds(r), m.maxActive, m.maxWithWindows, excused)
		w("| %s: %s | %s |\n", name, tokens, yes(r.kind("token")))
		w("| %s: a hold ends within DemoteAfter + %s = %s of running time after its session stopped holding it | %s (%d holds whose loss the watcher saw first; longest %s) |\n",
			name, fmtDur(schedulingAllowance), fmtDur(limit), yes(r.kind("bound")), m.boundChecked, longestAfterLoss(m))
		ws := windowsIn(r, "stale")
		w("| %s: stale windows (SIGCONT after a long SIGSTOP, or after the session lost the lock, until the holder saw its context cancelled) | %d, longest %s; %d overlapped holders beyond the limit (longest overlap %s) |\n",
			name, ws.count, fmtDur(ws.longest), ws.overlapping, fmtDur(ws.longestOverlap))
	}
}

// holdEnds says how r's holds ended: after their time, lost (by reason),
// with their process, at the candidate's stop.
func holdEnds(r *resource) string {
	var done, stopping, killed, open int
	lost := map[string]int{}
	for _, t := range r.terms {
		switch {
		case t.ended == "killed":
			killed++
		case t.ended == "open":
			open++
		case t.reason == "done":
			done++
		case t.reason == "candidate stopping":
			stopping++
		default:
			lost[t.reason]++
		}
	}
	parts := []string{fmt.Sprintf("%d released after their time", done)}
	if len(lost) > 0 {
		reasons := make([]string, 0, len(lost))
		n := 0
		for why, c := range lost {
			reasons = append(reasons, fmt.Sprintf("%d %s", c, why))
			n += c
		}
		slices.Sort(reasons)
		parts = append(parts, fmt.Sprintf("%d ended early (%s)", n, strings.Join(reasons, ", ")))
	}
	if killed > 0 {
		parts = append(parts, fmt.Sprintf("%d ended by SIGKILL", killed))
	}
	if stopping > 0 {
		parts = append(parts, fmt.Sprintf("%d at the candidate's stop", stopping))
	}
	if open > 0 {
		parts = append(parts, fmt.Sprintf("%d never ended in the ledgers", open))
	}
	return strings.Join(parts, ", ")
}

// longestAfterLoss is the bound check's longest measure, with its reason.
func longestAfterLoss(m *measures) string {
	if t := m.maxAfterLossTerm; t != nil {
		return fmt.Sprintf("%s (%s)", fmtDur(m.maxAfterLoss), t.reason)
	}
	return "none"
}

func outcomes(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, o := range []string{"accepted", "rejected", "not-applied", "unknown", "missing"} {
		if m[o] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", m[o], o))
		}
	}
	return strings.Join(parts, ", ")
}

func faultsTable(w func(string, ...any), h *history) {
	w("\n| fault | injected | leader kept | leadership moved | failover p50 | p99 | max | no leader within the timeout |\n")
	w("|---|---|---|---|---|---|---|---|\n")
	for _, ks := range faultStats(h) {
		if ks.count == 0 {
			continue
		}
		fo := ks.failover
		p50, p99, mx := "", "", ""
		if len(fo) > 0 {
			p50, p99, mx = fmtDur(fo.Pct(0.5)), fmtDur(fo.Pct(0.99)), fmtDur(fo.Max())
		}
		w("| %s | %d | %d | %d | %s | %s | %s | %d |\n", ks.kind, ks.count, ks.kept, len(fo), p50, p99, mx, ks.gaps)
	}
	w("\nFailover: from the injection to the start of the next term by any candidate (its LeaderFunc entered). \"Kept\": the leader's term survived until the next fault.\n")
}

// healShadow is how long after a fault's heal a leaderless stretch is
// counted as following the heal, in the stretches' summary.
const healShadow = 10 * time.Second

// stretchesTable lists the longest leaderless stretches that no fault
// explains, with the fault and the term before each, and sums those that
// began soon after a heal.
func stretchesTable(w func(string, ...any), h *history, fs feltStats) {
	if n := len(fs.aftershocks); n > 0 {
		var total time.Duration
		for _, a := range fs.aftershocks {
			total += a.gap.dur()
		}
		w("\nAftershocks: %d terms began during a fault and ended by its heal + DemoteAfter + CheckTTL + LockDelay (having begun before the heal, or with their session invalidated by Consul); %s without a leader after them in all. The leaderless stretch after each counts as the fault's for LockDelay + %s at most. Counted against the library, availability as users feel it would be %.2f%%. The longest:\n\n",
			n, fmtDur(total), fmtDur(schedulingAllowance), 100*fs.strict)
		for _, a := range fs.aftershocks[:min(n, 5)] {
			w("- %v, ended at %s (%s); no leader for %s after it\n", a.term, h.at(a.term.end), a.term.reason, fmtDur(a.gap.dur()))
		}
	}
	all := unexplained(h, fs.gaps)
	if len(all) == 0 {
		return
	}
	var total, afterHeal time.Duration
	n := 0
	for _, s := range all {
		total += s.dur()
		if d, ok := s.afterHeal(); ok && d <= healShadow {
			afterHeal += s.dur()
			n++
		}
	}
	w("\nLeaderless stretches that no fault explains: %d, %s in all; %d of them (%s) began within %s after a fault's heal. The longest:\n\n",
		len(all), fmtDur(total), n, fmtDur(afterHeal), fmtDur(healShadow))
	w("| stretch | length | the fault before it | the term before it |\n|---|---|---|---|\n")
	for _, s := range all[:min(len(all), 5)] {
		fault := "none"
		if f := s.fault; f != nil {
			fault = fmt.Sprintf("%d `%s` on %s at %s", f.n, f.kind, f.target, h.at(f.injected))
			if d, ok := s.afterHeal(); ok {
				fault += fmt.Sprintf(", healed %s before", fmtDur(d))
			}
		}
		prev := "none"
		if t := s.ended; t != nil {
			prev = fmt.Sprintf("%v, %s at %s (%s)", t, t.ended, h.at(t.end), t.reason)
		}
		w("| %s | %s | %s | %s |\n", h.spanAt(s.span), fmtDur(s.dur()), fault, prev)
	}
}

func setup(w func(string, ...any), h *history, m runMeta) {
	s := h.settings
	w("\nSetup: %d candidate processes (internal/harness/cmd/candidate, fenced writes every 100ms", m.candidates)
	if s.LockKey != "" || s.SemPrefix != "" {
		w("; beside the elector, on one lock.Session with its timings, a loop on the mutex `%s` and one on the semaphore `%s` with limit %d, each holding %v-%v (%.0f%% of the holds: %v-%v) and pausing %v-%v between holds",
			s.LockKey, s.SemPrefix, s.SemLimit, time.Duration(s.HoldMin), time.Duration(s.HoldMax), 100*s.LongShare,
			time.Duration(s.LongMin), time.Duration(s.LongMax), time.Duration(s.PauseMin), time.Duration(s.PauseMax))
	}
	w("), each with its own client agent through a fault proxy; 3 Consul servers (raft_multiplier 1); ")
	if m.netns {
		w("every server and every candidate host (its agent and candidate process) in a network namespace of its own, linked through a bridge, partitions cut by dropping packets on arrival; ")
	} else {
		w("all on loopback addresses, without the partition faults (%s); ", m.netnsWhy)
	}
	w("timings LockDelay %v, DemoteAfter %v, ConfirmInterval %v, CheckTTL %v; machine %s; %s; Consul %s.\n",
		time.Duration(s.LockDelay), time.Duration(s.DemoteAfter), time.Duration(s.ConfirmInterval), time.Duration(s.CheckTTL),
		m.machine, m.goVersion, m.consulVersion)
}

// Report markers: -report replaces only the text between them when the
// file has them (docs/reliability.md keeps its prose), else writes the file.
const (
	markBegin = "<!-- chaos-report:begin -->"
	markEnd   = "<!-- chaos-report:end -->"
)

func writeReport(path, md string) error {
	old, err := os.ReadFile(path)
	if err == nil {
		s := string(old)
		i, j := strings.Index(s, markBegin), strings.Index(s, markEnd)
		if i >= 0 && j > i {
			md = s[:i+len(markBegin)] + "\n" + md + "\n" + s[j:]
		}
	}
	return os.WriteFile(path, []byte(md), 0o644)
}
