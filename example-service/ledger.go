package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/leader"
)

// errFenced: Consul rejected a write because the writer's session no
// longer holds the lock key: a stale leader's write, refused.
var errFenced = errors.New("example-service: write fenced off: the lock is no longer ours")

// record is one line of the ledger.
type record struct {
	Seq    int       `json:"seq"`
	Token  uint64    `json:"token"`
	Leader string    `json:"leader"`
	At     time.Time `json:"at"`
}

// ledger appends records to a Consul key, guarded by the term: each write
// is a transaction that first checks that the term's session still holds
// the lock key (check-session), so a stale leader's write is rejected.
type ledger struct {
	client   *api.Client
	key      string // the ledger key
	lockKey  string // the election key
	identity string
	interval time.Duration
	keep     int // records kept
}

// Name implements lifecycle.Worker.
func (l *ledger) Name() string { return "ledger" }

// Run appends a record every interval while the term lasts.
func (l *ledger) Run(ctx context.Context) error {
	term := leader.TermFromContext(ctx)
	if term == nil {
		return errors.New("example-service: ledger runs only in a term")
	}
	tick := time.NewTicker(l.interval)
	defer tick.Stop()
	for {
		if err := l.append(ctx, term); err != nil && ctx.Err() == nil {
			return err // the supervisor restarts us with backoff
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// casRetries bounds how often append retries a write that lost a race
// with another write (a CAS conflict), pausing casPause×attempt between.
const (
	casRetries = 5
	casPause   = 20 * time.Millisecond
)

// append adds one record with term's token, or fails with errFenced. Only
// a lost CAS race is retried here (a few times, with a pause); any other
// failure goes back to the supervisor, which restarts the worker with
// backoff.
func (l *ledger) append(ctx context.Context, term *leader.Term) error {
	for attempt := 1; ; attempt++ {
		pair, _, err := l.client.KV().Get(l.key, (&api.QueryOptions{}).WithContext(ctx))
		if err != nil {
			return err
		}
		var index uint64
		var lines []string
		if pair != nil {
			index = pair.ModifyIndex
			lines = splitLines(string(pair.Value))
		}
		rec, _ := json.Marshal(record{Seq: nextSeq(lines), Token: term.Token(), Leader: l.identity, At: time.Now().UTC()})
		lines = append(lines, string(rec))
		if len(lines) > l.keep {
			lines = lines[len(lines)-l.keep:]
		}
		ok, resp, _, err := l.client.Txn().Txn(api.TxnOps{
			{KV: &api.KVTxnOp{Verb: api.KVCheckSession, Key: l.lockKey, Session: term.Session()}},
			{KV: &api.KVTxnOp{Verb: api.KVCAS, Key: l.key, Index: index, Value: []byte(strings.Join(lines, "\n"))}},
		}, (&api.QueryOptions{}).WithContext(ctx))
		switch {
		case err != nil:
			return err
		case ok:
			return nil
		case len(resp.Errors) == 0:
			return errors.New("example-service: ledger write failed without errors")
		case resp.Errors[0].OpIndex == 0:
			return fmt.Errorf("%w: %s", errFenced, resp.Errors[0].What)
		case !casConflict(resp.Errors[0].What) || attempt == casRetries:
			return fmt.Errorf("example-service: ledger write: %s", resp.Errors[0].What)
		}
		// The CAS lost a race with another write: pause, read again.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt) * casPause):
		}
	}
}

// casConflict tells a CAS that lost a race (the key's index moved) from
// other transaction errors.
func casConflict(what string) bool {
	return strings.Contains(what, "index") || strings.Contains(what, "CAS")
}

// read returns the ledger's records, oldest first.
func (l *ledger) read(ctx context.Context) ([]record, error) {
	pair, _, err := l.client.KV().Get(l.key, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil || pair == nil {
		return nil, err
	}
	var out []record
	for _, line := range splitLines(string(pair.Value)) {
		var r record
		if err := json.Unmarshal([]byte(line), &r); err == nil {
			out = append(out, r)
		}
	}
	return out, nil
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func nextSeq(lines []string) int {
	if len(lines) == 0 {
		return 1
	}
	var last record
	_ = json.Unmarshal([]byte(lines[len(lines)-1]), &last)
	return last.Seq + 1
}
