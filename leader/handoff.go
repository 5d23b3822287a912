package leader

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/internal/core/hold"
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
// naming that candidate, which tries it first (within milliseconds; the
// others wait 250ms); HandOff returns then. The elector campaigns again at
// once, as one of those that wait. It returns ErrNotLeader when there is no
// active term, an error wrapping ErrNoCandidate when to is not a live
// candidate (always in a Group that does not balance: it has no line of
// candidates), and ErrLeaderWorkRunning when the key could not be
// released. When ctx ends first, it returns ctx's error and the handoff
// goes on. Unlike a handoff to a better-ranked candidate, it does not wait
// for StabilityWindow or YieldInterval.
func (e *Elector) HandOff(ctx context.Context, to string) error {
	t := e.Term()
	if t == nil {
		return ErrNotLeader
	}
	target, err := e.target(e.line(), to)
	if err != nil {
		return err
	}
	if !e.endGracefully(t, handOff{to: target, cause: causeOperator}) {
		return ErrNotLeader
	}
	e.log.Info("handing leadership over", "to", name(target), "cause", causeOperator)
	select {
	case <-t.released:
		if !t.freed {
			return fmt.Errorf("%w (or the release went unanswered): the key was not released; a successor waits out the lock-delay", ErrLeaderWorkRunning)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err() // the handoff goes on
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
		line.order(eligible)
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
		if json.Unmarshal(pair.Value, &req) != nil {
			continue // not ours to act on
		}
		if req.Session != t.session {
			e.log.Info("removing a stale handoff request", "for_session", req.Session)
			e.casDelete(ctx, pair)
			continue
		}
		if req.Refused != "" {
			continue // answered already; its caller removes it
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
		if e.endGracefully(t, handOff{to: target, cause: causeOperator}) {
			e.log.Info("handing leadership over on request", "to", name(target), "cause", causeOperator)
		}
		return
	}
}

// withdraw removes an unanswered request for session that its caller
// gave up on, within a short bound of its own.
func withdraw(client *api.Client, reqKey, session string) {
	ctx, cancel := context.WithTimeout(context.Background(), DefaultRequestTimeout)
	defer cancel()
	p, _, err := client.KV().Get(reqKey, (&api.QueryOptions{}).WithContext(ctx))
	var req handOffRequest
	if err != nil || p == nil || json.Unmarshal(p.Value, &req) != nil || req.Session != session {
		return
	}
	_, _, _ = client.KV().DeleteCAS(p, (&api.WriteOptions{}).WithContext(ctx))
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
// one. Give ctx a deadline: a leader that does not answer (hung, or whose
// token cannot read the request key) leaves it waiting, and when ctx ends
// the request is withdrawn and ctx's error returned.
//
// It returns an error wrapping ErrNoCandidate when the leader refuses (to
// is not a live candidate) or follows no requests (a Group's elector, an
// older consulelect), ErrNotLeader when nobody holds the key, consulelect.ErrForeignKey
// when a client other than consulelect holds it, and the new holder with
// an error when leadership moved elsewhere before the request was seen. It
// needs key:read on key and key:write on <key>/.handoff, and uses the
// client's datacenter.
func RequestHandOff(ctx context.Context, client *api.Client, key, to string) (*Holder, error) {
	old, err := requestHandOff(ctx, client, key, to)
	if err != nil {
		return old, err
	}
	return awaitHandOff(ctx, client, key, to, old)
}

// requestHandOff writes the request for the current holder of key, which
// it returns (with the error when it cannot be asked).
func requestHandOff(ctx context.Context, client *api.Client, key, to string) (*Holder, error) {
	kv, reqKey := client.KV(), key+requestSuffix
	pair, _, err := kv.Get(key, (&api.QueryOptions{RequireConsistent: true}).WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", key, err)
	}
	old, held := holderOf(pair)
	var tv termValue
	switch {
	case !held:
		return nil, fmt.Errorf("%w: nobody holds %q", ErrNotLeader, key)
	case old.Foreign:
		return nil, fmt.Errorf("%w: %q is held by a client other than consulelect", consulelect.ErrForeignKey, key)
	case json.Unmarshal(pair.Value, &tv) != nil || !tv.Requests:
		return &old, fmt.Errorf("%w: the leader of %q (%s) does not follow handoff requests: a Group's elector, or an older consulelect; use its HandOff",
			ErrNoCandidate, key, old.ID)
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
	return &old, nil
}

// awaitHandOff follows key and its request, with one blocking query on
// the prefix, until the leader old handed over or refused, or ctx ended
// (then the request is withdrawn).
func awaitHandOff(ctx context.Context, client *api.Client, key, to string, old *Holder) (*Holder, error) {
	kv, reqKey := client.KV(), key+requestSuffix
	var wait uint64
	for {
		pairs, qm, err := kv.List(key, (&api.QueryOptions{WaitIndex: wait, RequireConsistent: wait == 0}).WithContext(ctx))
		if err != nil {
			withdraw(client, reqKey, old.Session) // not answered: the leader must not act on it later
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("follow %q: %w", key, err)
		}
		wait = hold.NextIndex(qm.LastIndex, wait)
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
