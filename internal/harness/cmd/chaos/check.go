package main

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// schedulingAllowance is added to DemoteAfter by the bound check: the
// lateness of the demote timer plus the time the candidate needs to see its
// cancelled context and log the end, on a loaded 2-core machine. It is the
// ε + δ share of the safety margin LockDelay − DemoteAfter (docs/safety.md),
// and equals the smallest margin leader.New accepts (MinSafetyMargin).
const schedulingAllowance = 250 * time.Millisecond

// violation is one broken safety property, with a message that names the
// terms (or writes) involved and their times.
type violation struct {
	kind string // overlap, token, bound, fencing, liveness; for the locks prefixed by the use (mutex-overlap)
	msg  string
}

// verdict is the checker's result.
type verdict struct {
	violations []violation
	measured   map[*resource]*measures
}

// measures is what the checker measured on one resource.
type measures struct {
	// maxAfterLoss is the longest running time of a hold after its session
	// stopped holding the key (the bound check's measure), and its hold.
	maxAfterLoss     time.Duration
	maxAfterLossTerm *term
	boundChecked     int // holds whose loss the watcher saw before they ended
	// maxActive is the most holds active at one moment outside their
	// windows (what the limit applies to); maxWithWindows counts the holds
	// inside a window too.
	maxActive, maxWithWindows int
	excused                   time.Duration // time with more than limit holds active, all inside windows
}

func (v *verdict) fail(kind, format string, a ...any) {
	v.violations = append(v.violations, violation{kind, fmt.Sprintf(format, a...)})
}

// of returns the measures of r.
func (v *verdict) of(r *resource) *measures {
	m := v.measured[r]
	if m == nil {
		m = &measures{}
		v.measured[r] = m
	}
	return m
}

// check runs every check on h. It never stops at the first violation.
func check(h *history) *verdict {
	v := &verdict{measured: map[*resource]*measures{}}
	if len(h.elect.terms) == 0 {
		v.fail("liveness", "no candidate ever led")
	}
	if k := h.settings.LockKey; k != "" && len(h.mutex.terms) == 0 {
		v.fail(h.mutex.kind("liveness"), "no candidate ever held the mutex %q", k)
	}
	if p := h.settings.SemPrefix; p != "" && len(h.sem.terms) == 0 {
		v.fail(h.sem.kind("liveness"), "no candidate ever held a slot of the semaphore %q", p)
	}
	for _, r := range h.resources() {
		v.checkTokens(h, r)
		v.checkBound(h, r)
		v.checkHolders(h, r)
	}
	v.checkFencing(h)
	return v
}

// checkTokens: fencing tokens strictly increase across the election's
// terms, and across the mutex's holds, in the order in which they started.
// A semaphore's slots may be taken concurrently, and the answer of an
// earlier join may arrive after a later one, so there the tokens must be
// distinct and increase across the holds of each process.
//
// A hold stale from its start (logged only after a SIGCONT, acquired
// before it) is left out: when it started is not known, only that its
// acquire came before the pause ended.
func (v *verdict) checkTokens(h *history, r *resource) {
	if r != h.sem {
		var a *term
		for _, b := range r.terms {
			if b.staleFromStart() {
				continue
			}
			if a != nil && b.token <= a.token {
				v.fail(r.kind("token"), "token regression: %v started at %s after %v started at %s, with a token not higher",
					b, h.at(b.start), a, h.at(a.start))
			}
			a = b
		}
		return
	}
	seen := map[uint64]*term{}
	last := map[int]*term{}
	for _, t := range r.terms {
		if o := seen[t.token]; o != nil {
			v.fail(r.kind("token"), "token reused: %v started at %s with the token of %v started at %s", t, h.at(t.start), o, h.at(o.start))
		}
		seen[t.token] = t
		if o := last[t.pid]; o != nil && t.token <= o.token {
			v.fail(r.kind("token"), "token regression: %v started at %s after the same process's %v started at %s, with a token not higher",
				t, h.at(t.start), o, h.at(o.start))
		}
		last[t.pid] = t
	}
}

// staleFromStart reports whether t is inside a stale window from its start.
func (t *term) staleFromStart() bool {
	for _, w := range t.windows {
		if w.kind == "stale" && w.span.from <= t.start {
			return true
		}
	}
	return false
}

// checkBound: a hold ends no later than DemoteAfter (+ the scheduling
// allowance) of running time after its session stopped holding the key.
// Time during which the process was SIGSTOPped is not counted: a stopped
// process cannot act, and cannot end its term either.
func (v *verdict) checkBound(h *history, r *resource) {
	m := v.of(r)
	limit := time.Duration(h.settings.DemoteAfter) + schedulingAllowance
	for _, t := range r.terms {
		if t.lostAt == 0 || t.lostAt >= t.end {
			continue
		}
		m.boundChecked++
		ran := spans{{t.lostAt, t.end}}.minus(h.procs[t.pid].pauses).total()
		if ran > m.maxAfterLoss {
			m.maxAfterLoss, m.maxAfterLossTerm = ran, t
		}
		if ran <= limit {
			continue
		}
		if r == h.elect {
			v.fail("bound", "term outlived its session: %v led until %s (%s), %s of running time after its session was seen no longer holding the key at %s; bound DemoteAfter + %s = %s",
				t, h.at(t.end), t.ended, fmtDur(ran), h.at(t.lostAt), fmtDur(schedulingAllowance), fmtDur(limit))
			continue
		}
		v.fail(r.kind("bound"), "hold outlived its lock: %v held the %s until %s (%s), %s of running time after its session was seen no longer holding it at %s; bound DemoteAfter + %s = %s",
			t, r.use, h.at(t.end), t.ended, fmtDur(ran), h.at(t.lostAt), fmtDur(schedulingAllowance), fmtDur(limit))
	}
}

// checkHolders: at no moment are more than r.limit holds of r active (two
// leaders, two mutex holders, limit+1 semaphore holders), except inside a
// window (a stale holder after SIGCONT, an operator's delete) where the
// hold does not count; fencing must hold instead: no fenced write
// attempted by that term in the window was accepted. A window that
// overlapped others (its hold would have been one too many) records them.
func (v *verdict) checkHolders(h *history, r *resource) {
	m := v.of(r)
	type edge struct {
		at      int64
		t       *term
		enter   bool // the span starts (else ends)
		excused bool // a span inside one of the hold's windows
	}
	var edges []edge
	for _, t := range r.terms {
		var ws []span
		for _, w := range t.windows {
			ws = append(ws, w.span)
		}
		win := normalize(ws)
		for _, s := range t.active.minus(win) {
			edges = append(edges, edge{s.from, t, true, false}, edge{s.to, t, false, false})
		}
		for _, s := range t.active.intersect(win) {
			edges = append(edges, edge{s.from, t, true, true}, edge{s.to, t, false, true})
		}
	}
	// In time order, ends before starts at the same instant: spans that
	// only touch do not overlap.
	slices.SortStableFunc(edges, func(a, b edge) int {
		if c := cmp.Compare(a.at, b.at); c != 0 {
			return c
		}
		return cmp.Compare(btoi(a.enter), btoi(b.enter))
	})
	type excess struct {
		terms []*term
		first int64
		total time.Duration
	}
	var excesses []*excess
	byTerms := map[string]*excess{}
	counted, excused := map[*term]int{}, map[*term]int{}
	for i, e := range edges {
		set := counted
		if e.excused {
			set = excused
		}
		if e.enter {
			set[e.t]++
		} else if set[e.t]--; set[e.t] <= 0 {
			delete(set, e.t)
		}
		if i+1 == len(edges) || edges[i+1].at <= e.at {
			continue
		}
		seg := span{e.at, edges[i+1].at}
		m.maxActive = max(m.maxActive, len(counted))
		m.maxWithWindows = max(m.maxWithWindows, len(counted)+len(excused))
		if len(counted) > r.limit {
			ts := sortedTerms(counted)
			k := fmt.Sprint(ts)
			x := byTerms[k]
			if x == nil {
				x = &excess{terms: ts, first: seg.from}
				byTerms[k] = x
				excesses = append(excesses, x)
			}
			x.total += seg.dur()
		} else if len(counted)+len(excused) > r.limit {
			m.excused += seg.dur()
		}
		if len(counted)+len(excused) <= r.limit {
			continue
		}
		others := append(sortedTerms(counted), sortedTerms(excused)...)
		for _, t := range sortedTerms(excused) {
			for _, w := range t.windows {
				if w.span.from > seg.from || w.span.to < seg.to {
					continue
				}
				w.overlap += seg.dur()
				for _, o := range others {
					if o != t {
						w.addOverlapped(o)
					}
				}
			}
		}
	}
	for _, x := range excesses {
		v.fail(r.kind("overlap"), "%s", h.excessMsg(r, x.terms, x.total, x.first))
	}
	for _, t := range r.terms {
		for _, w := range t.windows {
			if len(w.overlapped) > 0 {
				v.checkWindowWrites(h, w)
			}
		}
	}
}

// excessMsg describes holds of r all active for total from first.
func (h *history) excessMsg(r *resource, ts []*term, total time.Duration, first int64) string {
	verb := "held"
	if r == h.elect {
		verb = "led"
	}
	var b strings.Builder
	for i, t := range ts {
		switch {
		case i == len(ts)-1 && i > 0:
			b.WriteString(" and ")
		case i > 0:
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%v %s %s", t, verb, h.interval(t))
	}
	both, outside := "all", "any stale-leader or operator window"
	if len(ts) == 2 {
		both = "both"
	}
	if r != h.elect {
		outside = "any stale window"
	}
	head := number(len(ts)) + " " + r.holder() + "s"
	if r.limit > 1 {
		head += fmt.Sprintf(" (limit %d)", r.limit)
	}
	return fmt.Sprintf("%s: %s; %s active for %s from %s, outside %s", head, b.String(), both, fmtDur(total), h.at(first), outside)
}

// number spells small counts.
func number(n int) string {
	if n >= 2 && n <= 9 {
		return []string{"two", "three", "four", "five", "six", "seven", "eight", "nine"}[n-2]
	}
	return fmt.Sprint(n)
}

// sortedTerms returns the terms of set by start.
func sortedTerms(set map[*term]int) []*term {
	ts := make([]*term, 0, len(set))
	for t := range set {
		ts = append(ts, t)
	}
	slices.SortFunc(ts, func(a, b *term) int {
		return cmp.Or(cmp.Compare(a.start, b.start), cmp.Compare(a.pid, b.pid), cmp.Compare(a.token, b.token))
	})
	return ts
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// addOverlapped records that o was active during the window.
func (w *window) addOverlapped(o *term) {
	if !slices.Contains(w.overlapped, o) {
		w.overlapped = append(w.overlapped, o)
	}
}

// checkWindowWrites: every fenced write attempted by a window's term in
// the window, while another term was active, was rejected (or never
// applied).
func (v *verdict) checkWindowWrites(h *history, w *window) {
	for _, wr := range w.term.writes {
		if wr.sent < w.span.from || wr.sent > w.span.to {
			continue
		}
		switch wr.outcome {
		case "accepted":
			v.fail("fencing", "%s leader's fenced write accepted while another candidate led: %v write %d sent at %s (raft index %d), in its %s window %s overlapping %v",
				w.kind, w.term, wr.seq, h.at(wr.sent), wr.index, w.kind, h.spanAt(w.span), w.overlapped[0])
		case "unknown":
			v.fail("fencing", "%s leader's fenced write with no verdict (the audit could not be read): %v write %d sent at %s, in its %s window %s overlapping %v",
				w.kind, w.term, wr.seq, h.at(wr.sent), w.kind, h.spanAt(w.span), w.overlapped[0])
		}
	}
}

// checkFencing checks the accepted writes in raft order, which needs no
// clock: a write carrying token t that Consul applied at raft index x is
// stale if another term acquired the key in between (t < t' < x); its
// check-session should have failed. It also checks that Consul's answers
// agree with its KV store.
func (v *verdict) checkFencing(h *history) {
	tokens := make([]uint64, 0, len(h.elect.terms))
	byToken := map[uint64]*term{}
	for _, t := range h.elect.terms {
		tokens = append(tokens, t.token)
		byToken[t.token] = t
	}
	slices.Sort(tokens)
	ids := make([]writeID, 0, len(h.audit))
	for id := range h.audit {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b writeID) int { return cmp.Compare(h.audit[a].index, h.audit[b].index) })
	for _, id := range ids {
		a := h.audit[id]
		i, _ := slices.BinarySearch(tokens, a.token+1)
		if i < len(tokens) && tokens[i] < a.index {
			v.fail("fencing", "stale write applied: %s pid %d write %d with token %d was applied at raft index %d, after %v acquired the key at index %d",
				id.id, id.pid, id.seq, a.token, a.index, byToken[tokens[i]], tokens[i])
		}
	}
	for _, w := range h.writes {
		_, inAudit := h.audit[w.writeID]
		switch {
		case !h.auditDone:
		case w.result == "rejected" && inAudit:
			v.fail("fencing", "write rejected by Consul yet applied: %s pid %d write %d sent at %s", w.id, w.pid, w.seq, h.at(w.sent))
		case w.outcome == "missing":
			v.fail("fencing", "write acknowledged by Consul yet not in its KV store: %s pid %d write %d sent at %s (raft index %d)",
				w.id, w.pid, w.seq, h.at(w.sent), w.index)
		}
	}
}

// at formats a time relative to the start of the run.
func (h *history) at(m int64) string {
	return fmt.Sprintf("t=%.3fs", float64(m-h.start)/1e9)
}

func (h *history) spanAt(s span) string { return "[" + h.at(s.from) + ", " + h.at(s.to) + "]" }

func (h *history) interval(t *term) string {
	return fmt.Sprintf("[%s, %s (%s)]", h.at(t.start), h.at(t.end), t.ended)
}
