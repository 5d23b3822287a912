package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sync"
)

// record is one line of a ledger: the candidates' events (written by
// internal/harness/cmd/candidate) and the harness's (faults, process signals, key
// observations, the audit of accepted writes) share one JSON shape. Times
// are CLOCK_MONOTONIC nanoseconds (mono).
type record struct {
	Ev   string `json:"ev"`
	Mono int64  `json:"mono"`

	ID      string `json:"id,omitempty"`  // candidate
	PID     int    `json:"pid,omitempty"` // candidate process
	Use     string `json:"use,omitempty"` // hold, release, key: mutex or semaphore (empty: the election)
	Token   uint64 `json:"token,omitempty"`
	Session string `json:"session,omitempty"`
	Reason  string `json:"reason,omitempty"`

	// Fenced writes (candidate "write"; harness "audit").
	Seq    uint64 `json:"seq,omitempty"`
	Done   int64  `json:"done,omitempty"`
	OK     *bool  `json:"ok,omitempty"`
	Result string `json:"result,omitempty"`
	Index  uint64 `json:"index,omitempty"`
	What   string `json:"what,omitempty"`

	// Harness records.
	N         int          `json:"n,omitempty"`         // fault number
	Kind      string       `json:"kind,omitempty"`      // fault kind
	Confirmed int64        `json:"confirmed,omitempty"` // stop: kernel reports it stopped; kill: reaped
	Exists    *bool        `json:"exists,omitempty"`    // key observation
	Holders   []string     `json:"holders,omitempty"`   // semaphore observation: live holders
	Detail    string       `json:"detail,omitempty"`
	Settings  *runSettings `json:"settings,omitempty"` // ev "run"
}

// Harness record kinds (the Ev field). Candidate kinds are boot, start,
// end and write (the election), hold and release (the locks).
const (
	evRun       = "run"       // settings of the run, first line
	evSpawn     = "spawn"     // a candidate process started
	evKill      = "kill"      // SIGKILL sent (Mono), process reaped (Confirmed)
	evStop      = "stop"      // SIGSTOP sent (Mono), process stopped (Confirmed)
	evCont      = "cont"      // SIGCONT about to be sent (Mono)
	evExit      = "exit"      // a candidate process exited on its own or on SIGTERM
	evFault     = "fault"     // a fault injected (Mono) on a target
	evHeal      = "heal"      // the fault healed
	evRecovered = "recovered" // after the fault, a leader is seen again
	evGap       = "gap"       // no leader within the recovery timeout
	evKey       = "key"       // the election key (or the mutex's, or the semaphore's prefix) as the watcher saw it
	evAudit     = "audit"     // an accepted fenced write found in Consul
	evAuditDone = "audit-done"
	evEndRun    = "end-run" // faults over; teardown starts
)

// runSettings are the parameters the checker needs, recorded in the fault
// ledger's first line.
type runSettings struct {
	Seed            int64  `json:"seed"`
	Candidates      int    `json:"candidates"`
	Key             string `json:"key"`
	LockDelay       int64  `json:"lock_delay"`
	DemoteAfter     int64  `json:"demote_after"`
	ConfirmInterval int64  `json:"confirm_interval"`
	CheckTTL        int64  `json:"check_ttl"`
	// The locks the candidates take beside the elector (empty: none).
	LockKey   string `json:"lock_key,omitempty"`
	SemPrefix string `json:"sem_prefix,omitempty"`
	SemLimit  int    `json:"sem_limit,omitempty"`
	// How long the lock loops hold and pause (nanoseconds).
	HoldMin   int64   `json:"hold_min,omitempty"`
	HoldMax   int64   `json:"hold_max,omitempty"`
	PauseMin  int64   `json:"pause_min,omitempty"`
	PauseMax  int64   `json:"pause_max,omitempty"`
	LongShare float64 `json:"long_share,omitempty"` // of the holds, kept LongMin to LongMax instead
	LongMin   int64   `json:"long_min,omitempty"`
	LongMax   int64   `json:"long_max,omitempty"`
	// Where it ran, for a later -check.
	Netns    bool   `json:"netns,omitempty"`
	NetnsWhy string `json:"netns_why,omitempty"`
	Machine  string `json:"machine,omitempty"`
	Go       string `json:"go,omitempty"`
}

// ledger appends records to a file, one write call per line, unbuffered.
type ledger struct {
	mu sync.Mutex
	f  *os.File
}

func createLedger(path string) (*ledger, error) {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	return &ledger{f: f}, nil
}

func (l *ledger) add(r record) {
	b, err := json.Marshal(r)
	if err != nil {
		panic(err) // a record always marshals
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = l.f.Write(append(b, '\n'))
}

func (l *ledger) close() error { return l.f.Close() }

// readLedger returns every record of a ledger file.
func readLedger(path string) ([]record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		out = append(out, r)
	}
	return out, sc.Err()
}
