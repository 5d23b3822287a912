package main

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// history is what happened in a run, rebuilt from the ledgers alone: the
// checker's input. Every time is CLOCK_MONOTONIC nanoseconds.
type history struct {
	settings   runSettings
	start, end int64 // the run record, and the end-run record (else the last record)
	last       int64 // the last time in any record
	// elect is the election: its terms are the leaders'. mutex and sem are
	// the lock and the semaphore the candidates take beside the elector.
	elect, mutex, sem *resource
	procs             map[int]*process
	faults            []*fault
	writes            []*write // every fenced write a candidate logged
	// audit holds the accepted writes found in Consul after the run (the
	// audit keys), with the raft index that applied each; auditDone tells
	// whether it was read completely.
	audit     map[writeID]auditEntry
	auditDone bool
	// unexpected lists the candidate processes that exited without being
	// told to (the harness starts them again).
	unexpected []string
}

type writeID struct {
	id  string
	pid int
	seq uint64
}

type auditEntry struct {
	token, index uint64
}

// Uses of a key by the candidates: the ledgers' "use" field (empty for
// the election).
const (
	useElection  = "election"
	useMutex     = "mutex"
	useSemaphore = "semaphore"
)

// A resource is one thing the candidates hold, with the number of holders
// the library allows at once: the election key (one leader), the mutex
// (one holder) or the semaphore (its limit). The checker applies the same
// rules to the holds of each.
type resource struct {
	use   string
	limit int
	terms []*term  // its holds, sorted by start once derived
	keys  []keyObs // its key (the semaphore: its prefix) as the watcher saw it, by time
}

// holder is how the report and the messages name one holder of r.
func (r *resource) holder() string {
	if r.use == useElection {
		return "leader"
	}
	return r.use + " holder"
}

// kind is the violation kind of a rule broken on r: the rule's name,
// prefixed with the use for the locks ("overlap", "mutex-overlap").
func (r *resource) kind(rule string) string {
	if r.use == useElection {
		return rule
	}
	return r.use + "-" + rule
}

// resources are the election and the locks, in the report's order.
func (h *history) resources() []*resource { return []*resource{h.elect, h.mutex, h.sem} }

// resource returns the resource of a ledger's use field.
func (h *history) resource(use string) (*resource, error) {
	switch use {
	case "", useElection:
		return h.elect, nil
	case useMutex:
		return h.mutex, nil
	case useSemaphore:
		return h.sem, nil
	}
	return nil, fmt.Errorf("unknown use %q", use)
}

// term is one interval of one candidate process holding a resource: a
// leadership term, from the moment its LeaderFunc was entered to the
// moment it saw its context cancelled, or a held lock, from the moment the
// lock package confirmed the acquire to the moment the holder stopped
// acting (its context ended, or it was about to Unlock); or until its
// process died.
type term struct {
	use        string
	id         string
	pid        int
	token      uint64
	session    string
	start, end int64
	ended      string // "end" (logged by the candidate), "killed" (reaped after SIGKILL), "open" (neither)
	reason     string
	// Derived.
	active  spans     // [start, end] minus the times the process was SIGSTOPped
	lostAt  int64     // first time the watcher saw the key not held by session (0: never)
	windows []*window // stretches outside the contract (see window)
	writes  []*write
}

func (t *term) String() string {
	if t.use != useElection {
		return fmt.Sprintf("%s (pid %d, %s token %d)", t.id, t.pid, t.use, t.token)
	}
	return fmt.Sprintf("%s (pid %d, token %d)", t.id, t.pid, t.token)
}

// process is one run of a candidate.
type process struct {
	id     string
	pid    int
	died   int64 // reaped after SIGKILL, or seen exiting (0: still running)
	pauses spans // SIGSTOPped: from the kernel's confirmation to the SIGCONT
}

// A window is a stretch of a term (or a hold) in which the library's
// contract does not promise a single leader (at most limit holders), so an
// overlap there is not by itself a violation; fencing must hold instead
// (no write of the term accepted):
//   - "stale": the tail of a term after SIGCONT, when the process was
//     stopped longer than DemoteAfter or its session lost the key while it
//     was stopped (docs/safety.md, "Not guaranteed": a paused process);
//     the whole hold when such a pause ended before the hold was logged
//     but after the watcher saw it acquired;
//   - "operator": from an operator's delete of the key to the end of the
//     holder's term (lock-delay is bypassed; docs/safety.md, assumption 5).
type window struct {
	kind       string
	span       span
	term       *term
	overlapped []*term // other terms active during the window
	overlap    time.Duration
}

// write is one fenced write attempt logged by a candidate.
type write struct {
	writeID
	token      uint64
	session    string
	sent, done int64
	result     string // as logged: accepted, rejected, unknown
	outcome    string // after the audit: accepted, rejected, not-applied, unknown
	index      uint64 // raft index that applied it (accepted)
	what       string
}

// fault is one injected fault, from the fault ledger.
type fault struct {
	n              int
	kind, target   string
	pid            int
	token          uint64 // the target's term when injected
	session        string
	detail         string
	injected       int64
	healed         int64
	recovered      int64 // a leader was seen again (0: never, see gap)
	recoveredToken uint64
	gap            bool // no leader within the recovery timeout
}

// keyObs is one observation of a resource's key by the harness's watcher.
type keyObs struct {
	mono int64
	// index is the key's ModifyIndex, or the KV index when it is missing;
	// for the semaphore, the prefix's index. A state after an acquire at
	// raft index x has an index of at least x.
	index uint64
	// holders are the sessions that hold the resource in that state: the
	// key's session, or the semaphore's holders whose contender key their
	// session holds.
	holders []string
}

// buildHistory rebuilds a run from its ledgers' records (any order).
func buildHistory(recs []record) (*history, error) {
	h := &history{procs: map[int]*process{}, audit: map[writeID]auditEntry{},
		elect: &resource{use: useElection, limit: 1}, mutex: &resource{use: useMutex, limit: 1},
		sem: &resource{use: useSemaphore, limit: 1}}
	slices.SortStableFunc(recs, func(a, b record) int { return cmp.Compare(a.Mono, b.Mono) })
	b := &builder{h: h, faults: map[int]*fault{}}
	for _, r := range recs {
		h.last = max(h.last, r.Mono, r.Done, r.Confirmed)
		if err := b.add(r); err != nil {
			return nil, err
		}
	}
	if !b.sawRun {
		return nil, fmt.Errorf("no run record: not a chaos fault ledger")
	}
	h.end = cmp.Or(b.endRun, h.last)
	h.closeOpen()
	h.derive()
	return h, nil
}

// builder applies records, in time order, to a history.
type builder struct {
	h      *history
	faults map[int]*fault
	sawRun bool
	endRun int64
}

func (b *builder) add(r record) error {
	h := b.h
	switch r.Ev {
	case evRun:
		b.sawRun, h.start = true, r.Mono
		if r.Settings != nil {
			h.settings = *r.Settings
			h.sem.limit = max(1, r.Settings.SemLimit)
		}
	case evEndRun:
		b.endRun = r.Mono
	case evSpawn, "boot":
		h.proc(r.ID, r.PID)
	case evKill, evExit, evStop, evCont:
		b.addSignal(r)
	case evKey:
		res, err := h.resource(r.Use)
		if err != nil {
			return err
		}
		o := keyObs{mono: r.Mono, index: r.Index, holders: r.Holders}
		if res != h.sem && r.Exists != nil && *r.Exists && r.Session != "" {
			o.holders = []string{r.Session}
		}
		res.keys = append(res.keys, o)
	case evFault, evHeal, evRecovered, evGap:
		return b.addFault(r)
	case evAudit:
		h.audit[writeID{r.ID, r.PID, r.Seq}] = auditEntry{token: r.Token, index: r.Index}
	case evAuditDone:
		h.auditDone = true
	case "start", "hold":
		res, err := h.resource(r.Use)
		if err != nil {
			return err
		}
		h.proc(r.ID, r.PID)
		res.terms = append(res.terms, &term{use: res.use, id: r.ID, pid: r.PID, token: r.Token, session: r.Session, start: r.Mono, ended: "open"})
	case "end", "release":
		res, err := h.resource(r.Use)
		if err != nil {
			return err
		}
		t := res.findTerm(r.PID, r.Token)
		if t == nil {
			return fmt.Errorf("%s of a %s never started: %s pid %d token %d", r.Ev, res.use, r.ID, r.PID, r.Token)
		}
		t.end, t.ended, t.reason = r.Mono, "end", r.Reason
	case "write":
		h.writes = append(h.writes, &write{writeID: writeID{r.ID, r.PID, r.Seq}, token: r.Token, session: r.Session,
			sent: r.Mono, done: r.Done, result: r.Result, index: r.Index, what: r.What})
	}
	return nil
}

// addSignal applies what the harness did to a candidate process.
func (b *builder) addSignal(r record) {
	h := b.h
	p := h.proc(r.ID, r.PID)
	switch r.Ev {
	case evKill: // dead once reaped
		p.died = max(p.died, cmp.Or(r.Confirmed, r.Mono))
	case evExit:
		p.died = max(p.died, r.Mono)
		if r.Detail != "" {
			h.unexpected = append(h.unexpected, fmt.Sprintf("%s pid %d at %s: %s", r.ID, r.PID, h.at(r.Mono), r.Detail))
		}
	case evStop: // paused once the kernel says so
		p.pauses = append(p.pauses, span{cmp.Or(r.Confirmed, r.Mono), 0})
	case evCont: // until the SIGCONT was sent
		if n := len(p.pauses); n > 0 && p.pauses[n-1].to == 0 {
			p.pauses[n-1].to = r.Mono
		}
	}
}

func (b *builder) addFault(r record) error {
	if r.Ev == evFault {
		f := &fault{n: r.N, kind: r.Kind, target: r.ID, pid: r.PID, token: r.Token, session: r.Session, detail: r.Detail, injected: r.Mono}
		b.faults[r.N] = f
		b.h.faults = append(b.h.faults, f)
		return nil
	}
	f := b.faults[r.N]
	if f == nil {
		return fmt.Errorf("%s record for unknown fault %d", r.Ev, r.N)
	}
	switch r.Ev {
	case evHeal:
		f.healed = r.Mono
	case evRecovered:
		f.recovered, f.recoveredToken = r.Mono, r.Token
	case evGap:
		f.gap = true
	}
	return nil
}

func (h *history) proc(id string, pid int) *process {
	p := h.procs[pid]
	if p == nil {
		p = &process{id: id, pid: pid}
		h.procs[pid] = p
	}
	return p
}

// findTerm returns the election term of process pid with token.
func (h *history) findTerm(pid int, token uint64) *term { return h.elect.findTerm(pid, token) }

// findTerm returns r's hold by process pid with token, the latest if several.
func (r *resource) findTerm(pid int, token uint64) *term {
	for i := len(r.terms) - 1; i >= 0; i-- {
		if t := r.terms[i]; t.pid == pid && t.token == token {
			return t
		}
	}
	return nil
}

// closeOpen ends the terms and pauses that have no end in the ledgers:
// at the death of their process (a SIGKILL), else at the last record.
func (h *history) closeOpen() {
	last := h.last
	for _, p := range h.procs {
		for i := range p.pauses {
			if p.pauses[i].to == 0 {
				p.pauses[i].to = cmp.Or(p.died, last)
			}
		}
		p.pauses = normalize(p.pauses)
	}
	for _, r := range h.resources() {
		for _, t := range r.terms {
			if t.ended != "open" {
				continue
			}
			if p := h.procs[t.pid]; p.died != 0 {
				t.end, t.ended = p.died, "killed"
			} else {
				t.end = max(last, t.start)
			}
		}
	}
}

// derive computes, for every resource, each hold's active spans, the time
// its session lost the key, and its stale windows; and for the election,
// the terms' writes with their final outcome and the operator windows.
func (h *history) derive() {
	for _, r := range h.resources() {
		h.deriveHolds(r)
	}
	for _, w := range h.writes {
		w.outcome = h.outcome(w)
		if t := h.findTerm(w.pid, w.token); t != nil {
			t.writes = append(t.writes, w)
		}
	}
	for _, f := range h.faults {
		if f.kind != kindDeleteKey {
			continue
		}
		for _, t := range h.elect.terms {
			if t.token == f.token && t.pid == f.pid && t.start < f.injected && f.injected < t.end {
				t.windows = append(t.windows, &window{kind: "operator", span: span{f.injected, t.end}, term: t})
			}
		}
	}
}

// deriveHolds computes r's holds' active spans, loss times and stale
// windows. A pause makes a stale window when it was longer than
// DemoteAfter, or the hold's session lost the key while the process was
// stopped: from the SIGCONT to the end of the hold, or the whole hold
// when the process logged it only after the SIGCONT although the watcher
// had seen it acquired before (the acquire's answer, or the lock
// package's confirmation, came in just before the SIGSTOP).
func (h *history) deriveHolds(r *resource) {
	slices.SortFunc(r.terms, func(a, b *term) int { return cmp.Compare(a.start, b.start) })
	demote := time.Duration(h.settings.DemoteAfter)
	for _, t := range r.terms {
		pauses := h.procs[t.pid].pauses
		t.active = spans{{t.start, t.end}}.minus(pauses)
		t.lostAt = r.lostAt(t)
		for _, p := range pauses {
			resumed := p.to
			if resumed >= t.end || !(p.dur() > demote || (t.lostAt != 0 && t.lostAt <= resumed)) {
				continue
			}
			switch {
			case resumed > t.start:
				t.windows = append(t.windows, &window{kind: "stale", span: span{resumed, t.end}, term: t})
			case resumed > t.start-int64(demote) && r.seenHeld(t, resumed):
				t.windows = append(t.windows, &window{kind: "stale", span: span{t.start, t.end}, term: t})
			}
		}
	}
}

// lostAt is the first time the watcher saw the key, in a state after the
// hold's acquire (at least its index), not held by the hold's session. The
// watcher sees a change after it happened, so this is no earlier than the
// real loss: a bound measured from it is lenient, never strict.
func (r *resource) lostAt(t *term) int64 {
	for _, k := range r.keys[r.firstKey(t.start-int64(acquireSlack)):] {
		if k.index >= t.token && !slices.Contains(k.holders, t.session) {
			return k.mono
		}
	}
	return 0
}

// acquireSlack bounds how long before a hold was logged its acquire can
// have been applied (the answer's way back, a SIGSTOP of the candidate in
// between: every fault lasts less): lostAt looks at no older state.
const acquireSlack = 30 * time.Second

// firstKey is the index in r.keys of the first observation at or after at.
func (r *resource) firstKey(at int64) int {
	i, _ := slices.BinarySearchFunc(r.keys, at, func(k keyObs, at int64) int { return cmp.Compare(k.mono, at) })
	return i
}

// seenHeld reports whether the watcher saw the hold's session holding the
// resource, in a state after its acquire, by time at.
func (r *resource) seenHeld(t *term, at int64) bool {
	for _, k := range r.keys[r.firstKey(t.start-int64(acquireSlack)):] {
		if k.mono > at {
			return false
		}
		if k.index >= t.token && slices.Contains(k.holders, t.session) {
			return true
		}
	}
	return false
}

// outcome is a write's final verdict: the audit keys in Consul tell which
// writes were applied, also those whose answer never came back.
func (h *history) outcome(w *write) string {
	if !h.auditDone {
		return w.result
	}
	if a, ok := h.audit[w.writeID]; ok {
		w.index = a.index
		return "accepted"
	}
	switch w.result {
	case "unknown":
		return "not-applied"
	case "accepted":
		return "missing" // acknowledged by Consul, yet not in its KV store
	}
	return w.result
}
