package main

import (
	"encoding/json"
	"os"

	"golang.org/x/sys/unix"
)

// event is one line of the ledger. Times are CLOCK_MONOTONIC nanoseconds:
// every process on the host reads the same clock, so the chaos checker can
// compare the ledgers of several candidates and its own.
type event struct {
	Ev      string `json:"ev"`            // boot, start, end, write, hold, release
	Use     string `json:"use,omitempty"` // hold, release: mutex or semaphore
	Mono    int64  `json:"mono"`
	ID      string `json:"id"`
	PID     int    `json:"pid"`
	Token   uint64 `json:"token,omitempty"`
	Session string `json:"session,omitempty"`
	Reason  string `json:"reason,omitempty"` // end, release: why the term (the hold) ended

	// Fenced writes (ev "write"): Mono is the send time, Done the time the
	// answer (or the error) came back.
	Seq    uint64 `json:"seq,omitempty"`
	Done   int64  `json:"done,omitempty"`
	OK     *bool  `json:"ok,omitempty"`     // Consul applied the write
	Result string `json:"result,omitempty"` // accepted, rejected (by Consul) or unknown (no answer)
	Index  uint64 `json:"index,omitempty"`  // raft index of an accepted write
	What   string `json:"what,omitempty"`   // Consul's reason for a rejection, or the error
}

// ledger appends events to a file, one JSON line per write call, without
// buffering: a SIGKILL loses nothing already written. A nil ledger drops
// everything.
type ledger struct {
	f   *os.File
	id  string
	pid int
}

func openLedger(path, id string) (*ledger, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	return &ledger{f: f, id: id, pid: os.Getpid()}, nil
}

// add stamps ev with the ledger's identity and appends it. The time must
// have been read by the caller (mono) at the moment the event happened.
func (l *ledger) add(ev event) {
	if l == nil {
		return
	}
	ev.ID, ev.PID = l.id, l.pid
	b, err := json.Marshal(ev)
	if err != nil {
		return
	}
	// One write(2) per line on an O_APPEND file: lines of concurrent
	// writers never interleave, and each line is on disk once it returns.
	_, _ = l.f.Write(append(b, '\n'))
}

func (l *ledger) close() {
	if l != nil {
		_ = l.f.Close()
	}
}

// mono reads CLOCK_MONOTONIC in nanoseconds.
func mono() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}
