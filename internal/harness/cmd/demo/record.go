package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/internal/harness/timeline"
	"github.com/consulelect/consulelect/leader"
)

// pollEvery is how often the recorder asks every replica for its role.
const pollEvery = 20 * time.Millisecond

// recorder watches the demo for its timeline: each replica's terms (its
// /role, polled every 20ms, so a term's ends are known within that), the
// moments the key lost its session (a blocking query on the key), and
// the demo's faults.
type recorder struct {
	start time.Time
	stop  context.CancelFunc
	wg    sync.WaitGroup

	mu     sync.Mutex
	terms  map[string][]*polledTerm // by replica name
	losses []time.Time              // the key seen without a session
	faults []timeline.Fault
}

type polledTerm struct {
	token       uint64
	first, last time.Time
}

// startRecorder starts the recorder's goroutines; stopRecorder ends them.
func (d *demo) startRecorder(ctx context.Context, client *api.Client, key string) *recorder {
	ctx, cancel := context.WithCancel(ctx)
	rec := &recorder{start: d.start, stop: cancel, terms: map[string][]*polledTerm{}}
	rec.wg.Add(2)
	go func() { defer rec.wg.Done(); rec.poll(ctx, d.replicasNow) }()
	go func() { defer rec.wg.Done(); rec.watch(ctx, client, key) }()
	return rec
}

func (rec *recorder) stopRecorder() { rec.stop(); rec.wg.Wait() }

// poll asks every replica for its role until ctx ends.
func (rec *recorder) poll(ctx context.Context, replicas func() []*replica) {
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for {
		for _, r := range replicas() {
			if !r.alive() {
				continue
			}
			ro, err := r.role(ctx)
			now := time.Now()
			if err != nil || !ro.IsLeader {
				continue
			}
			rec.mu.Lock()
			ts := rec.terms[r.name]
			if n := len(ts); n > 0 && ts[n-1].token == ro.FencingToken {
				ts[n-1].last = now
			} else {
				rec.terms[r.name] = append(ts, &polledTerm{token: ro.FencingToken, first: now, last: now})
			}
			rec.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// watch follows the key with blocking queries and notes each moment it is
// seen without a session after it had one.
func (rec *recorder) watch(ctx context.Context, client *api.Client, key string) {
	var index uint64
	held := false
	for ctx.Err() == nil {
		p, meta, err := client.KV().Get(key, (&api.QueryOptions{WaitIndex: index, WaitTime: time.Minute}).WithContext(ctx))
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		index = meta.LastIndex
		now := p != nil && p.Session != ""
		if held && !now {
			rec.mu.Lock()
			rec.losses = append(rec.losses, time.Now())
			rec.mu.Unlock()
		}
		held = now
	}
}

// fault notes one of the demo's faults.
func (rec *recorder) fault(from, to time.Time, kind, label, title string) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.faults = append(rec.faults, timeline.Fault{From: from.Sub(rec.start), To: to.Sub(rec.start), Kind: kind, Label: label, Title: title})
}

// ledgerRecord is one fenced record of example-service's ledger.
type ledgerRecord struct {
	Seq    int       `json:"seq"`
	Token  uint64    `json:"token"`
	Leader string    `json:"leader"`
	At     time.Time `json:"at"`
}

// page is the demo's timeline: a lane per replica with its terms, the
// accepted fenced records, and the lock-delay after the crash (the loss of
// the key seen after crashedAt).
func (rec *recorder) page(replicas []*replica, ledger []ledgerRecord, crashedAt time.Time) *timeline.Page {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	at := func(t time.Time) time.Duration { return t.Sub(rec.start) }
	p := &timeline.Page{Title: "consulelect demo", End: at(time.Now()), Faults: rec.faults,
		About: fmt.Sprintf("%d replicas of example-service on one Consul agent; terms as their /role answered, polled every %v.", len(replicas), pollEvery)}
	var crashLoss time.Time
	for _, l := range rec.losses {
		if l.After(crashedAt) {
			crashLoss = l
			break
		}
	}
	for _, r := range replicas {
		row := timeline.Row{Name: "leader"}
		for _, t := range rec.terms[r.name] {
			row.Spans = append(row.Spans, timeline.Span{From: at(t.first), To: at(t.last) + pollEvery, Class: timeline.Term, Token: t.token,
				Label: fmt.Sprint(t.token), Title: fmt.Sprintf("%s leads, token %d (seen from %s to %s)", r.name, t.token, at(t.first).Round(time.Millisecond), at(t.last).Round(time.Millisecond))})
			if !crashLoss.IsZero() && !t.last.After(crashLoss) && crashLoss.Sub(t.last) < 30*time.Second && r.state == "killed" {
				row.Spans = append(row.Spans, timeline.Span{From: at(crashLoss), To: at(crashLoss) + leader.DefaultLockDelay, Class: timeline.LockDelay,
					Title: fmt.Sprintf("Consul invalidated %s's session: lock-delay %v, nobody can take the key", r.name, leader.DefaultLockDelay)})
			}
		}
		for _, l := range ledger {
			if l.Leader == r.name {
				row.Marks = append(row.Marks, timeline.Mark{At: at(l.At), Class: timeline.Accepted, Title: fmt.Sprintf("fenced record %d by %s, token %d", l.Seq, l.Leader, l.Token)})
			}
		}
		p.Lanes = append(p.Lanes, timeline.Lane{Name: r.name, Rows: []timeline.Row{row}})
	}
	return p
}

// ledger reads example-service's fenced records from a live replica.
func ledgerOf(r *replica) ([]ledgerRecord, error) {
	resp, err := http.Get("http://" + r.listen + "/ledger")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var recs []ledgerRecord
	return recs, json.NewDecoder(resp.Body).Decode(&recs)
}

// writePage writes p to path.
func writePage(path string, p *timeline.Page) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := p.WriteHTML(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
