// Package timeline writes a run as a self-contained HTML page with one
// inline SVG: one lane per candidate with its terms and holds (coloured by
// fencing token), the faults as marked spans, the lock-delay and
// demote-deadline windows, the fenced writes accepted and rejected, and
// hover text with the exact times. It needs no external asset, so the page
// can be attached to a report or opened from disk. The chaos harness and
// the demo fill a Page from their own records.
package timeline

import "time"

// Page is one run. Times are offsets from the run's start.
type Page struct {
	// Title heads the page; About is one line under it.
	Title, About string
	// End is the run's length: the axis spans [0, End].
	End time.Duration
	// Lanes are the candidates, top to bottom.
	Lanes []Lane
	// Faults are drawn on a lane of their own above the candidates and as
	// light bands across every lane.
	Faults []Fault
}

// Lane is one candidate: a row per thing it holds (the election, a mutex,
// a semaphore).
type Lane struct {
	Name string
	Rows []Row
}

// Row is one thing a candidate holds, as spans and marks on one line.
type Row struct {
	Name  string
	Spans []Span
	Marks []Mark
}

// Span classes.
const (
	// Term is a term or a hold; Token colours it.
	Term = "term"
	// Paused is a stretch the process was stopped (SIGSTOP) or dead.
	Paused = "paused"
	// LockDelay is Consul's lock-delay after the key was lost: nobody can
	// take it.
	LockDelay = "lockdelay"
	// Deadline is a stretch in which a term ran after its key was lost,
	// up to the term's end (which its demote deadline bounds).
	Deadline = "deadline"
)

// Mark classes.
const (
	Accepted = "accepted" // a fenced write Consul applied
	Rejected = "rejected" // a fenced write Consul refused
)

// Span is one stretch of a row.
type Span struct {
	From, To time.Duration
	Class    string
	// Token colours a Term span: the same token, the same colour.
	Token uint64
	// Label is drawn inside the span when it is wide enough.
	Label string
	// Title is the hover text; the exact times are added to it.
	Title string
}

// Mark is one instant on a row.
type Mark struct {
	At    time.Duration
	Class string
	Title string
}

// Fault is one injected fault, from its injection to its heal.
type Fault struct {
	From, To time.Duration
	// Kind colours it; Label is drawn above it (the fault's number).
	Kind, Label string
	Title       string
}
