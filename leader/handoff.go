package leader

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/internal/hold"
)

// ErrNoCandidate: a handoff named a candidate that is not live for the
// key (unknown, its check not passing, or with a negative Priority), or
// asked for "anyone else" when no other live candidate exists.
var ErrNoCandidate = errors.New("leader: no such live candidate")

// requestSuffix names the key, next to the election key, where an
// operator asks the leader to hand over (RequestHandOff).
const requestSuffix = "/.handoff"

// handOffRequest is the request key's value.
type handOffRequest struct {
	// Session is the holder's session when the request was written: a
	// request for an earlier term is ignored.
	Session string `json:"session"`
	// To names the target (an Identity or service ID); empty means anyone.
	To string `json:"to,omitempty"`
	// Refused is the leader's answer when it cannot hand over.
	Refused string `json:"refused,omitempty"`
}

// HandOff gives leadership to the live candidate named to (its Identity
// or service ID), or to the best-ranked other live candidate when to is
// empty: the term is cancelled, leader work awaited, and the key released
// to that candidate, which acquires it next (within milliseconds); HandOff
// returns then, or when ctx ends. The elector campaigns again at once
// (it is one of the candidates that wait for the target). It returns ErrNotLeader when there is no active term and an
// error wrapping ErrNoCandidate when to is not a live candidate. Unlike a
// handoff to a better-ranked candidate, it does not wait for
// StabilityWindow or YieldInterval.
func (e *Elector) HandOff(ctx context.Context, to string) error {
	t := e.Term()
	if t == nil {
		return ErrNotLeader
	}
	target, err := e.target(e.line(), to)
	if err != nil {
		return err
	}
	if !t.end(handOff{to: target, cause: causeOperator}) {
		return ErrNotLeader
	}
	e.log.Info("handing leadership over", "to", name(target), "cause", causeOperator)
	select {
	case <-t.released:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// target picks the candidate a handoff to to goes to.
func (e *Elector) target(line *candidates, to string) (Candidate, error) {
	if line == nil {
		return Candidate{}, fmt.Errorf("%w: a Group's electors have no line of candidates", ErrNoCandidate)
	}
	self := e.self()
	list, lerr, _ := line.snapshot()
	if list == nil && lerr != nil {
		return Candidate{}, fmt.Errorf("%w: %w", ErrNoCandidate, lerr)
	}
	var eligible []Candidate
	for _, o := range list {
		if o.ServiceID != self.ServiceID && o.Priority >= 0 {
			eligible = append(eligible, o)
		}
	}
	if to == "" {
		if len(eligible) == 0 {
			return Candidate{}, fmt.Errorf("%w: no other candidate is live", ErrNoCandidate)
		}
		slices.SortStableFunc(eligible, func(a, b Candidate) int {
			if r := line.rank.compare(a, b); r != 0 {
				return r
			}
			return strings.Compare(a.ServiceID, b.ServiceID)
		})
		return eligible[0], nil
	}
	if to == self.Identity || to == self.ServiceID {
		return Candidate{}, fmt.Errorf("%w: %q is this leader", ErrNoCandidate, to)
	}
	for _, o := range eligible {
		if o.Identity == to || o.ServiceID == to {
			return o, nil
		}
	}
	if c, ok := line.find(to); ok && c.Priority < 0 {
		return Candidate{}, fmt.Errorf("%w: %q never leads (negative priority)", ErrNoCandidate, to)
	}
	return Candidate{}, fmt.Errorf("%w: %q is not a live candidate for %q", ErrNoCandidate, to, e.cfg.Key)
}

// watchRequests follows the request key during term t (one blocking query,
// woken only when the key changes) and hands the term over when an
// operator asks for it (RequestHandOff). A request written for another
// session is stale: it is deleted unanswered. A request it cannot follow is
// answered with the refusal.
func (e *Elector) watchRequests(t *Term, line *candidates) {
	ctx := t.Context()
	key := e.cfg.Key + requestSuffix
	var index uint64
	warned := false
	for ctx.Err() == nil {
		pair, next, err := hold.GetKey(ctx, e.client, e.cfg.Datacenter, key, index, e.cfg.FollowerWait, e.cfg.RequestTimeout, false)
		if err != nil {
			pause := e.cfg.RequestTimeout
			if IsPermanent(err) { // an ACL without read on the request key: no outside requests
				pause = e.cfg.PermanentErrorRetry
				if !warned {
					e.log.Warn("cannot follow handoff requests (RequestHandOff); HandOff still works", "key", key, "error", err)
				}
				warned = true
			}
			index = 0
			if !sleep(ctx, e.clock, pause) {
				return
			}
			continue
		}
		index = next
		if pair == nil {
			continue
		}
		var req handOffRequest
		if json.Unmarshal(pair.Value, &req) != nil || req.Refused != "" {
			continue // not ours to act on, or answered already
		}
		if req.Session != t.session {
			e.log.Info("ignoring a stale handoff request", "for_session", req.Session)
			e.casDelete(ctx, pair)
			continue
		}
		target, err := e.target(line, req.To)
		if err != nil {
			req.Refused = err.Error()
			b, _ := json.Marshal(req)
			e.log.Warn("refusing a handoff request", "to", req.To, "error", err)
			e.casPut(ctx, &api.KVPair{Key: key, Value: b, ModifyIndex: pair.ModifyIndex})
			continue
		}
		e.casDelete(ctx, pair)
		if t.end(handOff{to: target, cause: causeOperator}) {
			e.log.Info("handing leadership over on request", "to", name(target), "cause", causeOperator)
		}
		return
	}
}

func (e *Elector) casDelete(ctx context.Context, pair *api.KVPair) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.cfg.RequestTimeout)
	defer cancel()
	if _, _, err := e.client.KV().DeleteCAS(pair, e.writeOpts(rctx)); err != nil {
		e.log.Warn("deleting a handoff request", "error", err)
	}
}

func (e *Elector) casPut(ctx context.Context, pair *api.KVPair) {
	rctx, cancel := context.WithTimeout(ctx, e.cfg.RequestTimeout)
	defer cancel()
	if _, _, err := e.client.KV().CAS(pair, e.writeOpts(rctx)); err != nil {
		e.log.Warn("answering a handoff request", "error", err)
	}
}

// RequestHandOff asks the leader of key, from any process (an operator's
// tool, a deploy script), to hand leadership to the live candidate named
// to (an Identity or service ID; "" for the best-ranked other one), and
// waits until it has: it returns the new holder. It writes the request into
// <key>/.handoff, which the leader follows, naming the current holder's
// session, so that a later leader ignores a request meant for an earlier
// one. It returns an error wrapping ErrNoCandidate when the leader refuses
// (to is not a live candidate), ErrNotLeader when nobody holds the key,
// ErrForeignKey when a client other than consulelect holds it, and ctx's
// error when ctx ends first. It needs key:read on key and key:write on
// <key>/.handoff; it uses the client's datacenter.
func RequestHandOff(ctx context.Context, client *api.Client, key, to string) (*Holder, error) {
	kv, reqKey := client.KV(), key+requestSuffix
	pair, _, err := kv.Get(key, (&api.QueryOptions{RequireConsistent: true}).WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", key, err)
	}
	old, held := holderOf(pair)
	switch {
	case !held:
		return nil, fmt.Errorf("%w: nobody holds %q", ErrNotLeader, key)
	case old.Foreign:
		return nil, fmt.Errorf("%w: %q is held by a client other than consulelect", ErrForeignKey, key)
	}
	prev, _, err := kv.Get(reqKey, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", reqKey, err)
	}
	b, _ := json.Marshal(handOffRequest{Session: old.Session, To: to})
	req := &api.KVPair{Key: reqKey, Value: b}
	if prev != nil {
		req.ModifyIndex = prev.ModifyIndex // replace an earlier request
	}
	ok, _, err := kv.CAS(req, (&api.WriteOptions{}).WithContext(ctx))
	switch {
	case err != nil:
		return nil, fmt.Errorf("write %q: %w", reqKey, err)
	case !ok:
		return nil, fmt.Errorf("write %q: another request was written at the same time", reqKey)
	}
	// One blocking query on the prefix follows both the key and the request.
	var wait uint64
	for {
		pairs, qm, err := kv.List(key, (&api.QueryOptions{WaitIndex: wait, RequireConsistent: wait == 0}).WithContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("follow %q: %w", key, err)
		}
		wait = max(qm.LastIndex, 1)
		var cur, answer *api.KVPair
		for _, p := range pairs {
			switch p.Key {
			case key:
				cur = p
			case reqKey:
				answer = p
			}
		}
		if h, held := holderOf(cur); held && h.Session != old.Session {
			if to != "" && h.ID != to && h.ServiceID != to {
				return &h, fmt.Errorf("leadership of %q moved to %s before the request was seen; ask again", key, h.ID)
			}
			return &h, nil
		}
		if answer != nil {
			var a handOffRequest
			if json.Unmarshal(answer.Value, &a) == nil && a.Session == old.Session && a.Refused != "" {
				_, _, _ = kv.DeleteCAS(answer, (&api.WriteOptions{}).WithContext(ctx))
				return nil, fmt.Errorf("%w: the leader refused: %s", ErrNoCandidate,
					strings.TrimPrefix(a.Refused, ErrNoCandidate.Error()+": "))
			}
		}
	}
}
