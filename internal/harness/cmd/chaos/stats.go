package main

import (
	"cmp"
	"slices"
	"time"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/internal/harness/durstat"
)

// sample and fmtDur are shared with the bench program.
type sample = durstat.Sample

var fmtDur = durstat.Format

// kindStats summarises the faults of one kind.
type kindStats struct {
	kind     string
	count    int
	kept     int    // the target's term survived the fault
	gaps     int    // no leader within the recovery timeout
	failover sample // injection to the next term start, when leadership moved
}

// faultStats groups the faults by kind, in the order of kinds.
func faultStats(h *history) []*kindStats {
	var out []*kindStats
	byKind := map[string]*kindStats{}
	for _, k := range kinds {
		byKind[k.name] = &kindStats{kind: k.name}
		out = append(out, byKind[k.name])
	}
	for i, f := range h.faults {
		ks := byKind[f.kind]
		if ks == nil {
			ks = &kindStats{kind: f.kind}
			byKind[f.kind] = ks
			out = append(out, ks)
		}
		ks.count++
		next := h.end
		if i+1 < len(h.faults) {
			next = h.faults[i+1].injected
		}
		switch {
		case f.gap:
			ks.gaps++
		case h.survived(f, next):
			ks.kept++
		default:
			if d, ok := h.failover(f); ok {
				ks.failover = append(ks.failover, d)
			}
		}
	}
	return out
}

// survived reports whether the term the fault was injected on was still
// active at until (the next fault, or the end of the run).
func (h *history) survived(f *fault, until int64) bool {
	t := h.findTerm(f.pid, f.token)
	return t != nil && t.start <= f.injected && t.end >= until
}

// failover is the time from a fault's injection to the start of the next
// term, by any candidate.
func (h *history) failover(f *fault) (time.Duration, bool) {
	s, ok := h.nextStart(f.injected)
	if !ok {
		return 0, false
	}
	return time.Duration(s - f.injected), true
}

// availability is the share of [first fault, end of the run] during which
// some term was active outside a stale window, and the longest stretch
// without one.
func availability(h *history) (share float64, window span, longestGap span) {
	if len(h.faults) == 0 {
		return 0, span{}, span{}
	}
	window = span{h.faults[0].injected, h.end}
	covered := h.led().intersect(spans{window})
	if window.dur() > 0 {
		share = float64(covered.total()) / float64(window.dur())
	}
	return share, window, spans{window}.minus(covered).longest()
}

// led is when some term was active outside a stale window.
func (h *history) led() spans {
	var led []span
	for _, t := range h.elect.terms {
		var stale []span
		for _, w := range t.windows {
			if w.kind == "stale" {
				stale = append(stale, w.span)
			}
		}
		led = append(led, t.active.minus(normalize(stale))...)
	}
	return normalize(led)
}

// caused reports whether the fault's term ended soon enough after it to
// have been ended by it: by settled(f). A term that ended later ended of
// something else.
func (h *history) caused(f *fault) bool {
	t := h.findTerm(f.pid, f.token)
	if t == nil || t.end < f.injected {
		return true
	}
	return t.end <= h.settled(f)
}

// settled is when the fault's effects on terms are over: its heal (a
// pause's length, a partition's) plus DemoteAfter, CheckTTL and
// LockDelay, the most a fault takes to end a term (docs/safety.md).
func (h *history) settled(f *fault) int64 {
	return max(f.healed, f.injected) + h.settings.DemoteAfter + h.settings.CheckTTL + h.settings.LockDelay
}

// nextStart is the start of the first term that starts after at.
func (h *history) nextStart(at int64) (int64, bool) {
	for _, t := range h.elect.terms {
		if t.start > at {
			return t.start, true
		}
	}
	return 0, false
}

// leaderless is the stretch without a leader (led: h.led()) that begins
// at from, up to to at most; empty if some term leads at from.
func leaderless(led spans, from, to int64) span {
	for _, l := range led {
		if l.from <= from && from < l.to {
			return span{from, from}
		}
		if l.from > from {
			return span{from, min(to, l.from)}
		}
	}
	return span{from, to}
}

// An aftershock is a term that began during a fault and ended before the
// fault settled, when it began before the heal or Consul invalidated its
// session: the heal itself can end a term (after a partition heals, the
// servers that were cut off gossip a stale view of the members, and
// Consul can mark a live node failed for a moment and invalidate its
// sessions, also those of a leader elected just after the heal).
type aftershock struct {
	term *term
	gap  span // the leaderless stretch after it
}

// invalidated is the reason of a term whose session Consul invalidated.
var invalidated = consulelect.ErrSessionInvalidated.Error()

// feltStats is availability as users feel it (see feltOf).
type feltStats struct {
	share       float64      // the share of the time outside the faults' own windows with a leader
	strict      float64      // the same with the aftershocks counted against the library
	gaps        spans        // the leaderless stretches that no fault explains
	aftershocks []aftershock // longest gap first
}

// feltOf is availability as users feel it: the share of [first fault,
// end of the run] with a leader, leaving out each fault's own window, and
// the leaderless stretches that no fault explains. It was 35.9% by the
// whole-run measure in the 500-fault run, because the next fault follows
// each failover within seconds. A fault's own window is
//   - the fault itself, from its injection to its heal (a leader that the
//     fault pauses keeps its term but leads nobody meanwhile);
//   - for a fault that ended its term, its failover: from its injection to
//     the start of the next term;
//   - for each of its aftershocks, the leaderless stretch after it, for
//     LockDelay + schedulingAllowance at most (a session invalidated by
//     Consul frees the key for a successor after one lock-delay): a longer
//     stretch is the library's.
func feltOf(h *history) feltStats {
	var st feltStats
	if len(h.faults) == 0 {
		return st
	}
	led := h.led()
	var base, shocks []span
	for i, f := range h.faults {
		next := h.end
		if i+1 < len(h.faults) {
			next = h.faults[i+1].injected
		}
		base = append(base, span{f.injected, max(f.healed, f.injected)})
		if !h.survived(f, next) && h.caused(f) {
			end := h.end
			if s, ok := h.nextStart(f.injected); ok {
				end = s
			}
			base = append(base, span{f.injected, end})
		}
		if f.healed == 0 {
			continue
		}
		for _, t := range h.elect.terms {
			if t.start <= f.injected || t.end > min(h.settled(f), next) || t.ended == "open" ||
				(t.start >= f.healed && t.reason != invalidated) {
				continue
			}
			gap := leaderless(led, t.end, h.end)
			st.aftershocks = append(st.aftershocks, aftershock{term: t, gap: gap})
			shocks = append(shocks, span{gap.from, min(gap.to, gap.from+h.settings.LockDelay+int64(schedulingAllowance))})
		}
	}
	slices.SortStableFunc(st.aftershocks, func(a, b aftershock) int { return cmp.Compare(b.gap.dur(), a.gap.dur()) })
	whole := spans{{h.faults[0].injected, h.end}}
	share := func(excused []span) (float64, spans) {
		rest := whole.minus(normalize(excused))
		covered := led.intersect(rest)
		if rest.total() == 0 {
			return 0, nil
		}
		return float64(covered.total()) / float64(rest.total()), rest.minus(covered)
	}
	st.strict, _ = share(base)
	st.share, st.gaps = share(append(base, shocks...))
	return st
}

// A stretch is a leaderless stretch that no fault explains, with what
// came before it: the last fault injected before it, and the last term.
type stretch struct {
	span
	fault *fault // nil: none before it
	ended *term  // the last term that started before it (nil: none)
}

// afterHeal is how long after its fault's heal the stretch began (false:
// no fault, or the fault had not healed).
func (s stretch) afterHeal() (time.Duration, bool) {
	if s.fault == nil || s.fault.healed == 0 || s.fault.healed > s.from {
		return 0, false
	}
	return time.Duration(s.from - s.fault.healed), true
}

// unexplained returns the leaderless stretches gaps (feltOf's), longest
// first, with what came before each.
func unexplained(h *history, gaps spans) []stretch {
	out := make([]stretch, 0, len(gaps))
	for _, g := range gaps {
		s := stretch{span: g}
		for _, f := range h.faults {
			if f.injected <= g.from {
				s.fault = f
			}
		}
		for _, t := range h.elect.terms {
			if t.start <= g.from {
				s.ended = t
			}
		}
		out = append(out, s)
	}
	slices.SortStableFunc(out, func(a, b stretch) int { return cmp.Compare(b.dur(), a.dur()) })
	return out
}

// windowStats summarises the windows of one kind.
type windowStats struct {
	count, overlapping int
	longest            time.Duration
	longestOverlap     time.Duration
	writes             map[string]int // outcome of the writes sent in them
	overlapWrites      map[string]int // same, in the windows that overlapped another leader
}

// windowsOf summarises the election's windows of one kind.
func windowsOf(h *history, kind string) windowStats { return windowsIn(h.elect, kind) }

// windowsIn summarises the windows of one kind of r's holds.
func windowsIn(r *resource, kind string) windowStats {
	ws := windowStats{writes: map[string]int{}, overlapWrites: map[string]int{}}
	for _, t := range r.terms {
		for _, w := range t.windows {
			if w.kind != kind {
				continue
			}
			ws.count++
			ws.longest = max(ws.longest, w.span.dur())
			if len(w.overlapped) > 0 {
				ws.overlapping++
				ws.longestOverlap = max(ws.longestOverlap, w.overlap)
			}
			for _, wr := range t.writes {
				if wr.sent >= w.span.from && wr.sent <= w.span.to {
					ws.writes[wr.outcome]++
					if len(w.overlapped) > 0 {
						ws.overlapWrites[wr.outcome]++
					}
				}
			}
		}
	}
	return ws
}

// writeCounts counts every logged write by final outcome.
func writeCounts(h *history) map[string]int {
	c := map[string]int{}
	for _, w := range h.writes {
		c[w.outcome]++
	}
	return c
}
