package lock

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/consulelect/consulelect"
	"github.com/hashicorp/consul/api"
)

// A Semaphore admits up to Limit holders at once, on a key prefix laid
// out as Consul's api.Semaphore and `consul lock -n` lay it out, so that
// they interoperate: a contender key "<prefix>/<session>" per contender
// (api.SemaphoreFlagValue, held by its session) and "<prefix>/.lock"
// holding {"Limit":N,"Holders":{"<session>":true,...}}, updated by CAS.
//
// Unlike api.Semaphore, a consulelect contender removes ("prunes") a
// holder whose session is gone only after it has seen it gone for
// LockDelay, and a holder's hold ends by its demote deadline, which is
// earlier (docs/safety.md, "The semaphore"): a holder cut off from Consul
// has stopped before its slot is given to anyone. Waiters are served in
// the order of their contender keys. A session holds at most one slot of a
// semaphore (the holders are sessions): goroutines of one process take
// turns; open one Session per slot to hold more from one process.
type Semaphore struct {
	s       *Session
	prefix  string
	limit   int
	lockKey string
	value   []byte

	// dead remembers, per holder session, when this process first saw it
	// gone (the pruning rule's clock); guarded by Session.mu.
	dead map[string]time.Time
}

// semaphoreLock is the value of "<prefix>/.lock", as api.Semaphore writes
// it, plus Join (which api.Semaphore ignores and drops).
type semaphoreLock struct {
	Limit   int
	Holders map[string]bool
	// Join is fresh for every join we write: Consul does not rewrite a key
	// whose value is unchanged, so a join again of a session already among
	// the holders (its first answer came late) would keep the lock's
	// ModifyIndex, the token of whoever joined last.
	Join string `json:",omitempty"`
}

// Semaphore returns the semaphore on prefix with limit holders. Every
// client of the prefix must use the same limit (else ErrLimitConflict
// when acquiring); nothing is sent to Consul here.
func (s *Session) Semaphore(prefix string, limit int) (*Semaphore, error) {
	if err := validateKey("Semaphore prefix", prefix); err != nil {
		return nil, err
	}
	if limit < 1 {
		return nil, bad("Semaphore limit (%d) must be at least 1", limit)
	}
	v, _ := json.Marshal(map[string]string{"holder": s.cfg.Identity})
	return &Semaphore{s: s, prefix: prefix, limit: limit, lockKey: prefix + "/" + api.DefaultSemaphoreKey,
		value: v, dead: map[string]time.Time{}}, nil
}

// Acquire waits until this session holds a slot, or ctx ends (then it
// returns ctx's error, with the last Consul error if there was one), and
// returns the held slot. A permanent error (ACL denied, consulelect.ErrForeignKey,
// ErrLimitConflict) is returned at once.
func (sem *Semaphore) Acquire(ctx context.Context) (*Held, error) { return sem.acquire(ctx, false) }

// TryAcquire takes a slot if one is free for it (no earlier waiter is
// owed it); otherwise it returns ErrLocked at once, after one read.
// Another goroutine of this Session on the semaphore (a hold, a wait, or
// the sweep after a request that was never answered) makes it return
// ErrLocked too.
func (sem *Semaphore) TryAcquire(ctx context.Context) (*Held, error) { return sem.acquire(ctx, true) }

func (sem *Semaphore) acquire(ctx context.Context, try bool) (*Held, error) {
	return sem.s.take(ctx, sem.lockKey, try, fmt.Sprintf("acquire %q", sem.prefix), sem.contend)
}

// semState is one read of the prefix.
type semState struct {
	lock       *api.KVPair // nil when absent
	holders    map[string]bool
	contenders map[string]*api.KVPair // by key suffix (the session for api.Semaphore's layout)
	waiting    []*api.KVPair          // live contenders that do not hold, oldest first
}

func (sem *Semaphore) parse(pairs api.KVPairs) (*semState, error) {
	st := &semState{holders: map[string]bool{}, contenders: map[string]*api.KVPair{}}
	dir := sem.prefix + "/"
	for _, p := range pairs {
		switch {
		case p.Key == sem.lockKey:
			st.lock = p
		case strings.HasPrefix(p.Key, dir) && !strings.Contains(p.Key[len(dir):], "/"):
			st.contenders[p.Key[len(dir):]] = p
		}
	}
	if st.lock != nil {
		if st.lock.Flags != api.SemaphoreFlagValue {
			return nil, fmt.Errorf("%w: %q has flags %#x", consulelect.ErrForeignKey, sem.lockKey, st.lock.Flags)
		}
		var v semaphoreLock
		if err := json.Unmarshal(st.lock.Value, &v); err != nil {
			return nil, fmt.Errorf("%w: %q is not a semaphore's lock: %v", consulelect.ErrForeignKey, sem.lockKey, err)
		}
		if v.Limit != sem.limit {
			return nil, fmt.Errorf("%w: %q has limit %d, this Semaphore %d", ErrLimitConflict, sem.prefix, v.Limit, sem.limit)
		}
		for h, ok := range v.Holders {
			if ok {
				st.holders[h] = true
			}
		}
	}
	for name, p := range st.contenders {
		if p.Session != "" && p.Session == name && !st.holders[name] {
			st.waiting = append(st.waiting, p)
		}
	}
	sort.Slice(st.waiting, func(i, j int) bool { return st.waiting[i].CreateIndex < st.waiting[j].CreateIndex })
	return st, nil
}

// alive reports whether holder h's contender key is held by h.
func (st *semState) alive(h string) bool {
	p := st.contenders[h]
	return p != nil && p.Session == h
}

// prune returns the holders that may be removed now: gone for at least
// LockDelay as seen by this process, and when the next one may be.
func (sem *Semaphore) prune(st *semState) (prunable []string, next time.Time) {
	now := sem.s.clock.Now()
	sem.s.mu.Lock()
	defer sem.s.mu.Unlock()
	for h := range sem.dead {
		if !st.holders[h] || st.alive(h) {
			delete(sem.dead, h)
		}
	}
	for h := range st.holders {
		if st.alive(h) {
			continue
		}
		first, ok := sem.dead[h]
		if !ok {
			first = now
			sem.dead[h] = now
		}
		if at := first.Add(sem.s.cfg.LockDelay); !now.Before(at) {
			prunable = append(prunable, h)
		} else if next.IsZero() || at.Before(next) {
			next = at
		}
	}
	return prunable, next
}
