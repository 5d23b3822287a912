package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/leader"
)

// fencer is the candidate's leader work: every interval it writes the
// term's token to <key>-fenced in a transaction that first checks that the
// term's session still holds the election key (check-session), as a store
// guarded by the lock would. The same transaction creates the audit entry
// <key>-writes/<id>/<pid>/<seq>, whose CreateIndex tells afterwards, in
// raft order, which writes Consul applied (also those whose answer was
// lost). Every attempt is logged to the ledger with Consul's verdict.
type fencer struct {
	client   *api.Client
	key, id  string
	pid      int
	interval time.Duration
	// timeout bounds one write. A write's context deliberately survives the
	// end of the term: a write already sent when leadership is lost is the
	// case that fencing exists for, and its verdict is what the ledger shows.
	timeout time.Duration
	ledger  *ledger
	seq     uint64 // per process; owned by the goroutine running run
}

// run writes until ctx (the term's) is done. Like most leader work, it
// notices the end of the term only in its select: a tick that is ready at
// the same time (say, after a SIGSTOP) may still send one write.
func (f *fencer) run(ctx context.Context, term *leader.Term) {
	if f.interval <= 0 {
		return
	}
	tick := time.NewTicker(f.interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			f.write(ctx, term)
		}
	}
}

// write makes one fenced write and logs its outcome.
func (f *fencer) write(ctx context.Context, term *leader.Term) {
	f.seq++
	token := []byte(strconv.FormatUint(term.Token(), 10))
	ops := api.TxnOps{
		{KV: &api.KVTxnOp{Verb: api.KVCheckSession, Key: f.key, Session: term.Session()}},
		{KV: &api.KVTxnOp{Verb: api.KVSet, Key: f.key + "-fenced", Value: token}},
		{KV: &api.KVTxnOp{Verb: api.KVSet, Key: auditKey(f.key, f.id, f.pid, f.seq), Value: token}},
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.timeout)
	defer cancel()
	ev := event{Ev: "write", Token: term.Token(), Session: term.Session(), Seq: f.seq, Mono: mono()}
	ok, resp, _, err := f.client.Txn().Txn(ops, (&api.QueryOptions{}).WithContext(wctx))
	ev.Done = mono()
	ev.OK = &ok
	switch {
	case err != nil:
		ev.Result, ev.What = "unknown", err.Error()
	case ok:
		ev.Result = "accepted"
		// The audit key is new, so its index is this transaction's (Consul
		// leaves <key>-fenced's ModifyIndex alone when the value is the same).
		if len(resp.Results) > 2 && resp.Results[2].KV != nil {
			ev.Index = resp.Results[2].KV.ModifyIndex
		}
	default:
		ev.Result = "rejected"
		if len(resp.Errors) > 0 {
			ev.What = resp.Errors[0].What
		}
	}
	f.ledger.add(ev)
}

// auditKey is the key a fenced write creates; the chaos checker lists them.
func auditKey(key, id string, pid int, seq uint64) string {
	return fmt.Sprintf("%s-writes/%s/%d/%d", key, id, pid, seq)
}
