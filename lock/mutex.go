package lock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/internal/core/hold"
)

// A Mutex is a lock on one Consul key, interoperable with api.Lock and
// `consul lock` on the same key (api.LockFlagValue). Waiters among
// consulelect clients are served in arrival order: each waiting process
// has an entry under "<key>/.queue/". A holder that unlocks hands the key
// to the oldest waiter it saw when it acquired, in the one transaction
// that releases it (the waiter confirms with one read); when that waiter
// has gone, or there was none, it releases the key, and the first waiter,
// watching the key, acquires it. Every other waiter watches only the entry
// ahead of it, so a handoff wakes one or two waiters, not all. Clients of
// other libraries are not in the queue (they may take a released key). A
// Mutex is safe for concurrent use; goroutines of one process take turns.
type Mutex struct {
	s     *Session
	key   string
	queue string // key + "/.queue/"
	value []byte
}

// Mutex returns the mutex on key. The key must be a valid Consul key (the
// error names it); nothing is sent to Consul.
func (s *Session) Mutex(key string) (*Mutex, error) {
	if err := validateKey("Mutex key", key); err != nil {
		return nil, err
	}
	v, _ := json.Marshal(map[string]string{"holder": s.cfg.Identity})
	return &Mutex{s: s, key: key, queue: key + "/.queue/", value: v}, nil
}

// Key is the Consul key locked.
func (m *Mutex) Key() string { return m.key }

// Lock waits until the lock is held, or ctx ends (then it returns ctx's
// error, with the last Consul error if there was one), and returns the
// held lock. A permanent Consul error (ACL denied, a key used with
// foreign flags: consulelect.ErrForeignKey) is returned at once. It never returns a
// nil Held without an error.
func (m *Mutex) Lock(ctx context.Context) (*Held, error) { return m.lock(ctx, false) }

// TryLock takes the lock if it is free and no other consulelect client
// waits for it; otherwise it returns ErrLocked at once (after one read).
// It still waits for Consul to answer, within ctx. Another goroutine of
// this Session on the key (a hold, a wait, or the sweep after a request
// that was never answered) makes it return ErrLocked too.
func (m *Mutex) TryLock(ctx context.Context) (*Held, error) { return m.lock(ctx, true) }

func (m *Mutex) lock(ctx context.Context, try bool) (*Held, error) {
	return m.s.take(ctx, m.key, try, fmt.Sprintf("lock %q", m.key), m.contend)
}

// queueState is one read of the key and its queue.
type queueState struct {
	key   *api.KVPair   // nil when the key does not exist
	live  []*api.KVPair // queue entries of live sessions, oldest first
	dead  []*api.KVPair // entries whose session is gone
	index uint64
}

func (q *queueState) free() bool { return q.key == nil || q.key.Session == "" }

func (q *queueState) mine(session string) bool { return q.key != nil && q.key.Session == session }

func (q *queueState) queued(session string) bool {
	for _, p := range q.live {
		if p.Session == session {
			return true
		}
	}
	return false
}

// after returns the oldest live entry of another session than session's
// (the waiter a holder hands the key to), or nil.
func (q *queueState) after(session string) *api.KVPair {
	for _, p := range q.live {
		if p.Session != session {
			return p
		}
	}
	return nil
}

// ahead returns the live entry just before session's (nil when first).
func (q *queueState) ahead(session string) *api.KVPair {
	var prev *api.KVPair
	for _, p := range q.live {
		if p.Session == session {
			return prev
		}
		prev = p
	}
	return prev
}

// contend is the wait for the key: read it and the queue; acquire when the
// key is free and we are first; else join the queue and wait for the key
// (when first: its release wakes only us, and we acquire at once) or for
// the entry ahead of us (it leaves when it got the key, gave up, or its
// session went).
func (m *Mutex) contend(ctx context.Context, try bool, leave func()) (_ *Held, err error) {
	w := &mutexWait{waiting: waiting{s: m.s, b: m.s.newBackoff()}, m: m,
		delay: &hold.LockDelayWait{LockDelay: m.s.cfg.LockDelay, Clock: m.s.clock}}
	defer func() { w.finish(err, leave, m.dequeue, m.key, m.leaveLine) }()
	for {
		sid, err := m.s.current(ctx)
		if err != nil {
			return nil, err
		}
		if w.queued != sid {
			w.queued, w.q = "", nil // the session was replaced: its entry went with it
		}
		if w.q == nil {
			if err := w.view(ctx, sid); err != nil {
				if err := w.backOff(ctx, err); err != nil {
					return nil, err
				}
				continue
			}
		}
		l, again, err := w.step(ctx, sid, try, leave)
		switch {
		case l != nil || err != nil:
			return l, err
		case again:
			continue
		}
		if w.q, err = m.wait(ctx, w.q, sid); err != nil {
			if err := w.backOff(ctx, err); err != nil {
				return nil, err
			}
		}
	}
}

// mutexWait is one contend's state.
type mutexWait struct {
	waiting
	m     *Mutex
	q     *queueState // the current view; nil: read it
	delay *hold.LockDelayWait
}

// view reads the key and the queue and removes dead entries.
func (w *mutexWait) view(ctx context.Context, sid string) error {
	q, err := w.m.read(ctx)
	if err != nil {
		return err
	}
	w.q = q
	w.m.clean(ctx, q.dead)
	if w.queued != "" && !q.queued(sid) && !q.mine(sid) {
		w.queued = "" // our entry was deleted (by an operator): queue again
	}
	return nil
}

// step acts on the current view: the key handed to us, or free with us
// first (acquire), or a place to take in the queue. It returns the held
// lock or the wait's error when the wait is over; again asks for another
// round (read again, or go on) at once; else the caller waits for a change.
func (w *mutexWait) step(ctx context.Context, sid string, try bool, leave func()) (l *Held, again bool, err error) {
	m, q := w.m, w.q
	if q.key != nil && q.key.Flags != 0 && q.key.Flags != api.LockFlagValue {
		return nil, false, fmt.Errorf("%w (flags %#x)", consulelect.ErrForeignKey, q.key.Flags)
	}
	if q.free() { // for the lock-delay's pacing
		w.delay.Free(m.s.clock.Now())
	} else {
		w.delay.Taken()
	}
	if q.mine(sid) { // handed to us by the holder before (or an acquire whose answer was lost)
		l, err := m.confirmMine(ctx, sid, q.after(sid), leave)
		if l != nil {
			w.queued = "" // the handoff deleted it, as does our acquire
		}
		w.q = nil
		return l, true, err
	}
	first := q.ahead(sid) == nil && (w.queued != "" || len(q.live) == 0)
	if q.free() && first {
		l, again, err := w.acquire(ctx, sid, q.after(sid), leave)
		if l != nil || err != nil || again {
			return l, again, err
		}
		// Held by another after all (a client not in the queue).
	}
	switch {
	case try:
		return nil, false, ErrLocked
	case w.queued == "":
		if err := m.enqueue(ctx, sid); err != nil {
			if !isPermanent(err) {
				w.late = sid // it may still be applied
			}
			if err := w.backOff(ctx, err); err != nil {
				return nil, false, err
			}
		} else {
			w.queued = sid
		}
		w.q = nil
		return nil, true, nil
	case w.q == nil: // read again before waiting
		return nil, true, nil
	}
	return nil, false, nil
}

// acquire takes the free key (next: the waiter after us, for the handoff
// at Unlock) and acts on the answer (hold.Judge); again asks for another
// round; neither held nor again: the key is held by another after all.
func (w *mutexWait) acquire(ctx context.Context, sid string, next *api.KVPair, leave func()) (l *Held, again bool, err error) {
	m := w.m
	sent := m.s.clock.Now()
	pair, out, err := m.acquire(ctx, sid, w.queued)
	w.q = nil
	switch hold.Judge(m.s.clock, sent, m.s.cfg.DemoteAfter, out, err) {
	case hold.StepRetry:
		w.queued = sid // it may have been applied: if we give up, dequeue releases the key
		if !isPermanent(err) {
			w.late = sid // or be applied later
		}
		return nil, true, w.backOff(ctx, err)
	case hold.StepStale:
		// Our session holds the key; the next read sees it mine and
		// confirms it afresh, or, if we give up, dequeue releases it.
		w.queued = sid
		return nil, true, nil
	case hold.StepHold:
		w.b.Reset()
		w.queued = "" // the acquire deleted it
		l, err := m.held(sid, pair, sent, next, leave)
		return l, false, err
	case hold.StepNewSession:
		m.s.forget(sid)
		return nil, true, nil
	case hold.StepLockDelay:
		if !hold.Sleep(ctx, m.s.clock, w.delay.Next()) {
			return nil, false, waitErr("wait", ctx, w.last)
		}
		return nil, true, nil
	}
	return nil, false, nil
}

// wait blocks until what decides our turn changes, and returns the view
// to go on with: when first, the key's change applied to q (nothing else
// decides our turn); else nil, to read again.
func (m *Mutex) wait(ctx context.Context, q *queueState, session string) (*queueState, error) {
	if p := q.ahead(session); p != nil {
		_, _, err := hold.GetKey(ctx, m.s.client, m.s.cfg.Datacenter, p.Key, p.ModifyIndex, m.s.cfg.WaitTime, m.s.cfg.RequestTimeout, false)
		return nil, err
	}
	index := q.index
	if q.key != nil {
		index = q.key.ModifyIndex
	}
	pair, _, err := hold.GetKey(ctx, m.s.client, m.s.cfg.Datacenter, m.key, index, m.s.cfg.WaitTime, m.s.cfg.RequestTimeout, false)
	if err != nil {
		return nil, err
	}
	next := *q
	next.key = pair
	return &next, nil
}

// read lists the key and its queue.
func (m *Mutex) read(ctx context.Context) (*queueState, error) {
	pairs, index, err := hold.List(ctx, m.s.client, m.s.cfg.Datacenter, m.key, 0, 0, m.s.cfg.RequestTimeout, false)
	if err != nil {
		return nil, err
	}
	st := &queueState{index: index}
	for _, p := range pairs {
		switch {
		case p.Key == m.key:
			st.key = p
		case !strings.HasPrefix(p.Key, m.queue) || strings.Contains(p.Key[len(m.queue):], "/"):
		case p.Session == "":
			st.dead = append(st.dead, p)
		default:
			st.live = append(st.live, p)
		}
	}
	sort.Slice(st.live, func(i, j int) bool { return st.live[i].CreateIndex < st.live[j].CreateIndex })
	return st, nil
}

// acquire locks the key for session in one transaction that also removes
// our queue entry; its result carries the fencing token.
func (m *Mutex) acquire(ctx context.Context, session, queued string) (*api.KVPair, hold.Outcome, error) {
	rctx, cancel := context.WithTimeout(ctx, m.s.cfg.RequestTimeout)
	defer cancel()
	ops := api.TxnOps{{KV: &api.KVTxnOp{Verb: api.KVLock, Key: m.key, Value: m.value, Flags: api.LockFlagValue, Session: session}}}
	if queued != "" {
		ops = append(ops, &api.TxnOp{KV: &api.KVTxnOp{Verb: api.KVDelete, Key: m.queue + queued}})
	}
	res, out, err := hold.Acquire(rctx, m.s.client, &api.QueryOptions{Datacenter: m.s.cfg.Datacenter}, ops)
	switch {
	case out == hold.Refused:
		return nil, 0, fmt.Errorf("%w: acquire: %w", consulelect.ErrPermanent, err)
	case err != nil || out != hold.Acquired:
		return nil, out, err
	}
	return res[0].KV, out, nil
}

// enqueue adds our entry to the queue, held by session so that it goes
// with it.
func (m *Mutex) enqueue(ctx context.Context, session string) error {
	rctx, cancel := context.WithTimeout(ctx, m.s.cfg.RequestTimeout)
	defer cancel()
	ok, _, err := m.s.client.KV().Acquire(&api.KVPair{Key: m.queue + session, Session: session, Value: m.value}, m.s.writeOpts(rctx))
	return m.s.checkSession(session, ok, err)
}

// dequeue removes our entry after a wait that ended without the lock.
// Left behind, it would hold up the queue while our session lives, so a
// failed delete is retried in the background.
// A holder may have handed us the key before the entry went (or an
// acquire whose answer was lost or late took it): then we release it. The
// process's turn on the key stays ours until that is done (leave), so no
// other goroutine of ours can be holding it. The entry is deleted at the
// index a consistent read saw, so that a late copy of the delete cannot
// remove a later wait's entry (the key is the same for every wait of the
// session; see release).
func (m *Mutex) dequeue(session string, leave func()) {
	m.s.persist("leave the lock queue of "+m.key, func(ctx context.Context) error { return m.leaveLine(ctx, session) }, leave)
}

// leaveLine deletes session's queue entry and releases the key if
// session holds it, each at the index a consistent read saw: dequeue's
// request, and the sweep's after a late write (the caller has the turn).
func (m *Mutex) leaveLine(ctx context.Context, session string) error {
	q := m.s.queryOpts(ctx)
	q.RequireConsistent = true
	entry, _, err := m.s.client.KV().Get(m.queue+session, q)
	if err != nil {
		return err
	}
	if entry != nil {
		ok, _, err := m.s.client.KV().DeleteCAS(entry, m.s.writeOpts(ctx))
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("queue entry %s changed while it was deleted", entry.Key)
		}
	}
	pair, _, err := m.s.client.KV().Get(m.key, q)
	if err != nil || pair == nil || pair.Session != session {
		return err
	}
	return m.release(ctx, session, pair.ModifyIndex)
}

// clean deletes queue entries left by sessions that are gone.
func (m *Mutex) clean(ctx context.Context, dead []*api.KVPair) {
	for _, p := range dead {
		rctx, cancel := context.WithTimeout(ctx, m.s.cfg.RequestTimeout)
		_, _, _ = m.s.client.KV().DeleteCAS(p, m.s.writeOpts(rctx))
		cancel()
	}
}

// held starts the hold on the key, acquired by a request sent at sent.
func (m *Mutex) held(session string, pair *api.KVPair, sent time.Time, next *api.KVPair, leave func()) (*Held, error) {
	token := pair.ModifyIndex
	release := func(ctx context.Context, reason error) error {
		if errors.Is(reason, consulelect.ErrLockLost) {
			return nil // not ours any more
		}
		if next != nil && m.handOff(ctx, session, token, next) {
			return nil
		}
		return m.release(ctx, session, token)
	}
	return m.s.newHeld(m.key, session, token, sent, leave, release, func(l *Held) {
		keep(l, token, sent, m.getKey, func(p *api.KVPair, sent time.Time, confirm bool) {
			hold.JudgeKey(l.h, session, token, p, sent, confirm, m.s.cfg.DemoteAfter, consulelect.ErrKeyDeleted, consulelect.ErrKeyTaken)
		})
	})
}

// getKey reads the key (see hold.Keeper.Read).
func (m *Mutex) getKey(ctx context.Context, index uint64, wait time.Duration, consistent bool) (*api.KVPair, uint64, error) {
	return hold.GetKey(ctx, m.s.client, m.s.cfg.Datacenter, m.key, index, wait, m.s.cfg.RequestTimeout, consistent)
}

// handOff hands the key held by session to next's session, in one
// transaction (check the key's index is the hold's token, unlock, lock for
// next, delete next's entry if unchanged); next, watching the key,
// confirms it with one read, so the handoff costs one write. It reports
// false if the key's index, next's entry or its session changed
// meanwhile. The index check keeps a late copy of the transaction from
// taking the key from a later hold of this Session (see release).
func (m *Mutex) handOff(ctx context.Context, session string, token uint64, next *api.KVPair) bool {
	ctx, cancel := context.WithTimeout(ctx, m.s.cfg.RequestTimeout)
	defer cancel()
	ops := api.TxnOps{
		{KV: &api.KVTxnOp{Verb: api.KVCheckIndex, Key: m.key, Index: token}},
		{KV: &api.KVTxnOp{Verb: api.KVUnlock, Key: m.key, Session: session, Flags: api.LockFlagValue, Value: m.value}},
		{KV: &api.KVTxnOp{Verb: api.KVLock, Key: m.key, Session: next.Session, Flags: api.LockFlagValue, Value: next.Value}},
		{KV: &api.KVTxnOp{Verb: api.KVDeleteCAS, Key: next.Key, Index: next.ModifyIndex}},
	}
	ok, _, _, err := m.s.client.Txn().Txn(ops, m.s.queryOpts(ctx))
	return err == nil && ok
}

// confirmMine starts the hold on a key that a read showed held by
// session (handed to us), once a consistent read sent now (the hold's
// first confirmation) shows it still is; its ModifyIndex is the token
// (the handoff's index, or later). It returns nil, nil when the read shows
// otherwise.
func (m *Mutex) confirmMine(ctx context.Context, session string, next *api.KVPair, leave func()) (*Held, error) {
	sent := m.s.clock.Now()
	pair, _, err := hold.GetKey(ctx, m.s.client, m.s.cfg.Datacenter, m.key, 0, 0, m.s.cfg.RequestTimeout, true)
	if err != nil || pair == nil || pair.Session != session || !hold.Fresh(m.s.clock, sent, m.s.cfg.DemoteAfter) {
		return nil, nil // read again
	}
	return m.held(session, pair, sent, next, leave)
}

// release releases the key held by session, if it still is, in a
// transaction that first checks the key's ModifyIndex is index (the
// hold's token, or what a read just saw); the first waiter, watching the
// key, acquires it at once. The check is what makes a late copy of this
// request harmless: a release whose client gave up may still be applied
// long after, when a retry has released the key and this Session holds
// it again, and Consul's release checks only the session. Every acquire
// moves the index, so the late copy fails. When the index moved within
// the hold (a plain PUT kept our session), the key is read again and
// released at its new index if our session still holds it.
func (m *Mutex) release(ctx context.Context, session string, index uint64) error {
	for {
		rctx, cancel := context.WithTimeout(ctx, m.s.cfg.RequestTimeout)
		ops := api.TxnOps{
			{KV: &api.KVTxnOp{Verb: api.KVCheckIndex, Key: m.key, Index: index}},
			{KV: &api.KVTxnOp{Verb: api.KVUnlock, Key: m.key, Session: session, Flags: api.LockFlagValue, Value: m.value}},
		}
		ok, resp, _, err := m.s.client.Txn().Txn(ops, m.s.queryOpts(rctx))
		cancel()
		if err != nil || ok {
			return err
		}
		pair, _, err := hold.GetKey(ctx, m.s.client, m.s.cfg.Datacenter, m.key, 0, 0, m.s.cfg.RequestTimeout, true)
		switch {
		case err != nil:
			return err
		case pair == nil || pair.Session != session:
			return nil // not ours any more: nothing to release
		case pair.ModifyIndex == index:
			return fmt.Errorf("release %q: transaction refused: %v", m.key, txnErrors(resp))
		}
		index = pair.ModifyIndex
	}
}

// txnErrors are the errors of a transaction Consul rolled back.
func txnErrors(resp *api.TxnResponse) api.TxnErrors {
	if resp == nil {
		return nil
	}
	return resp.Errors
}
