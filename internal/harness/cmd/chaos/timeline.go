package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/consulelect/consulelect/internal/harness/timeline"
)

// timelineOf draws the run (internal/harness/timeline): a lane per candidate with
// a row per resource (its terms and holds, coloured by token, with the
// fenced writes), its process's pauses, the windows after a key was lost
// (lock-delay, and the term's tail up to its end, which its demote
// deadline bounds), and the faults.
func timelineOf(h *history, v *verdict, m runMeta) *timeline.Page {
	at := func(mono int64) time.Duration { return time.Duration(max(0, mono-h.start)) }
	status := "PASS"
	if len(v.violations) > 0 {
		status = fmt.Sprintf("FAIL: %d violations", len(v.violations))
	}
	p := &timeline.Page{
		Title: fmt.Sprintf("Chaos run, seed %d: %s", m.seed, status),
		About: fmt.Sprintf("%d faults on %d candidates in %s; LockDelay %v, DemoteAfter %v; Consul %s.",
			len(h.faults), m.candidates, m.elapsed.Round(time.Second),
			time.Duration(h.settings.LockDelay), time.Duration(h.settings.DemoteAfter), m.consulVersion),
		End: at(h.last),
	}
	ids := map[string]bool{}
	for _, r := range h.resources() {
		for _, t := range r.terms {
			ids[t.id] = true
		}
	}
	for _, pr := range h.procs {
		ids[pr.id] = true
	}
	var names []string
	for id := range ids {
		names = append(names, id)
	}
	slices.Sort(names)
	lockDelay, demoteAfter := time.Duration(h.settings.LockDelay), time.Duration(h.settings.DemoteAfter)
	for _, id := range names {
		lane := timeline.Lane{Name: id}
		var paused []timeline.Span
		for _, pr := range h.procs {
			if pr.id != id {
				continue
			}
			for _, s := range pr.pauses {
				paused = append(paused, timeline.Span{From: at(s.from), To: at(s.to), Class: timeline.Paused,
					Title: fmt.Sprintf("%s pid %d stopped (SIGSTOP)", id, pr.pid)})
			}
		}
		for _, r := range h.resources() {
			if len(r.terms) == 0 {
				continue
			}
			row := timeline.Row{Name: rowName(r)}
			row.Spans = append(row.Spans, paused...)
			for _, t := range r.terms {
				if t.id != id {
					continue
				}
				title := fmt.Sprintf("%s, pid %d: %s token %d (%s%s)", id, t.pid, r.holder(), t.token, t.ended, reasonSuffix(t.reason))
				row.Spans = append(row.Spans, timeline.Span{From: at(t.start), To: at(t.end), Class: timeline.Term,
					Token: t.token, Label: fmt.Sprint(t.token), Title: title})
				if t.lostAt > 0 && t.lostAt < t.end {
					row.Spans = append(row.Spans, timeline.Span{From: at(t.lostAt), To: at(t.end), Class: timeline.Deadline,
						Title: fmt.Sprintf("token %d: the key lost (as the watcher saw it) while the term ran, until it ended; its demote deadline allows at most DemoteAfter (%v) after its last confirmation", t.token, demoteAfter)})
				}
				if t.lostAt > 0 && lost(t) {
					row.Spans = append(row.Spans, timeline.Span{From: at(t.lostAt), To: at(t.lostAt) + lockDelay, Class: timeline.LockDelay,
						Title: fmt.Sprintf("token %d: lock-delay after the session lost the key (%v): nobody can take it", t.token, lockDelay)})
				}
				for _, w := range t.writes {
					class := timeline.Rejected
					if w.outcome == "accepted" {
						class = timeline.Accepted
					}
					row.Marks = append(row.Marks, timeline.Mark{At: at(w.sent), Class: class,
						Title: fmt.Sprintf("fenced write %d of token %d: %s", w.seq, w.token, w.outcome)})
				}
			}
			lane.Rows = append(lane.Rows, row)
		}
		p.Lanes = append(p.Lanes, lane)
	}
	for _, f := range h.faults {
		end := f.healed
		if end == 0 {
			end = f.injected
		}
		title := fmt.Sprintf("fault %d: %s on %s (token %d)", f.n, f.kind, f.target, f.token)
		if f.detail != "" {
			title += ": " + f.detail
		}
		p.Faults = append(p.Faults, timeline.Fault{From: at(f.injected), To: at(end), Kind: f.kind, Label: fmt.Sprint(f.n), Title: title})
	}
	return p
}

func rowName(r *resource) string {
	if r.use == useElection {
		return "leader"
	}
	return r.use
}

func reasonSuffix(reason string) string {
	if reason == "" {
		return ""
	}
	return ": " + reason
}

// lost reports whether a term or hold ended by losing its session or its
// key (Consul's lock-delay then applies, except after a delete), not by
// its holder's release.
func lost(t *term) bool {
	if t.ended == "killed" {
		return true
	}
	for _, w := range []string{"invalidated", "unreachable", "lost", "taken"} {
		if strings.Contains(t.reason, w) {
			return true
		}
	}
	return false
}

// writeTimeline writes the run's timeline page to path.
func writeTimeline(path string, h *history, v *verdict, m runMeta) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := timelineOf(h, v, m).WriteHTML(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
