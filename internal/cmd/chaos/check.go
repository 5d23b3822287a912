package main

import (
	"cmp"
	"fmt"
	"slices"
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
	kind string // overlap, token, bound, fencing
	msg  string
}

// verdict is the checker's result.
type verdict struct {
	violations []violation
	// maxAfterLoss is the longest running time of a term after its session
	// stopped holding the key (the bound check's measure), and its term.
	maxAfterLoss     time.Duration
	maxAfterLossTerm *term
	boundChecked     int // terms whose loss the watcher saw before they ended
}

func (v *verdict) fail(kind, format string, a ...any) {
	v.violations = append(v.violations, violation{kind, fmt.Sprintf(format, a...)})
}

// check runs every check on h. It never stops at the first violation.
func check(h *history) *verdict {
	v := &verdict{}
	if len(h.terms) == 0 {
		v.fail("liveness", "no candidate ever led")
	}
	v.checkTokens(h)
	v.checkBound(h)
	v.checkOverlaps(h)
	v.checkFencing(h)
	return v
}

// checkTokens: fencing tokens strictly increase across terms in the order
// in which they started.
func (v *verdict) checkTokens(h *history) {
	for i := 1; i < len(h.terms); i++ {
		a, b := h.terms[i-1], h.terms[i]
		if b.token <= a.token {
			v.fail("token", "token regression: %v started at %s after %v started at %s, with a token not higher",
				b, h.at(b.start), a, h.at(a.start))
		}
	}
}

// checkBound: a term ends no later than DemoteAfter (+ the scheduling
// allowance) of running time after its session stopped holding the key.
// Time during which the process was SIGSTOPped is not counted: a stopped
// process cannot act, and cannot end its term either.
func (v *verdict) checkBound(h *history) {
	limit := time.Duration(h.settings.DemoteAfter) + schedulingAllowance
	for _, t := range h.terms {
		if t.lostAt == 0 || t.lostAt >= t.end {
			continue
		}
		v.boundChecked++
		ran := spans{{t.lostAt, t.end}}.minus(h.procs[t.pid].pauses).total()
		if ran > v.maxAfterLoss {
			v.maxAfterLoss, v.maxAfterLossTerm = ran, t
		}
		if ran > limit {
			v.fail("bound", "term outlived its session: %v led until %s (%s), %s of running time after its session was seen no longer holding the key at %s; bound DemoteAfter + %s = %s",
				t, h.at(t.end), t.ended, fmtDur(ran), h.at(t.lostAt), fmtDur(schedulingAllowance), fmtDur(limit))
		}
	}
}

// checkOverlaps: no two terms are active at the same moment, except inside
// a window (a stale leader after SIGCONT, an operator's delete), where
// fencing must hold instead: no fenced write attempted by that term in the
// window was accepted.
func (v *verdict) checkOverlaps(h *history) {
	for i, a := range h.terms {
		for _, b := range h.terms[i+1:] {
			if b.start >= a.end {
				break // terms are sorted by start: no later one overlaps a
			}
			both := a.active.intersect(b.active)
			if both.total() == 0 {
				continue
			}
			var excused []span
			for _, w := range append(slices.Clone(a.windows), b.windows...) {
				if in := both.intersect(spans{w.span}); in.total() > 0 {
					other := a
					if w.term == a {
						other = b
					}
					w.overlapped = append(w.overlapped, other)
					w.overlap += in.total()
					excused = append(excused, w.span)
				}
			}
			if rest := both.minus(normalize(excused)); rest.total() > 0 {
				v.fail("overlap", "two leaders: %v led %s and %v led %s; both active for %s from %s, outside any stale-leader or operator window",
					a, h.interval(a), b, h.interval(b), fmtDur(rest.total()), h.at(rest[0].from))
			}
		}
	}
	for _, t := range h.terms {
		for _, w := range t.windows {
			if len(w.overlapped) > 0 {
				v.checkWindowWrites(h, w)
			}
		}
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
	tokens := make([]uint64, 0, len(h.terms))
	byToken := map[uint64]*term{}
	for _, t := range h.terms {
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
