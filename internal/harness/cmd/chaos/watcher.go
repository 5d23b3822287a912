package main

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/internal/harness/consultest"
)

// watcher follows a key (the election key, the mutex's) or the
// semaphore's prefix with blocking queries against the Consul servers
// (trying the next one when a server is down) and records, with
// CLOCK_MONOTONIC, every change it sees: which sessions hold it. The
// checker uses it to date the moment a hold's session stopped holding the
// key; the fault loop uses the election's to see who leads.
type watcher struct {
	key     string
	use     string // "" (the election), useMutex, useSemaphore (key is the prefix)
	clients []*api.Client
	idle    []func()
	led     *ledger
	cancel  context.CancelFunc
	done    chan struct{}

	mu   sync.Mutex
	last keyView
}

// keyView is the key as last seen.
type keyView struct {
	index   uint64
	exists  bool
	session string
	holder  string // the id in a consulelect value; "" for any other value
	// holders are the semaphore's holders whose contender key their session
	// holds, sorted and comma-separated.
	holders string
}

// startWatcher follows key (for useSemaphore, the prefix) until stop.
func startWatcher(servers []*consultest.Agent, key, use string, led *ledger) (*watcher, error) {
	w := &watcher{key: key, use: use, led: led, done: make(chan struct{})}
	for _, s := range servers {
		cfg := s.Config()
		c, err := api.NewClient(cfg)
		if err != nil {
			return nil, err
		}
		w.clients = append(w.clients, c)
		w.idle = append(w.idle, cfg.Transport.CloseIdleConnections)
	}
	var ctx context.Context
	ctx, w.cancel = context.WithCancel(context.Background())
	go w.loop(ctx)
	return w, nil
}

func (w *watcher) stop() {
	w.cancel()
	<-w.done
	for _, f := range w.idle {
		f()
	}
}

func (w *watcher) view() keyView {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

func (w *watcher) loop(ctx context.Context) {
	defer close(w.done)
	var index uint64
	first := true
	for i := 0; ctx.Err() == nil; {
		const wait = 2 * time.Second
		qctx, cancel := context.WithTimeout(ctx, wait+3*time.Second)
		// AllowStale: each server answers from its own state machine, which
		// applies only committed entries, so a change is never seen before
		// it happened, and the watcher keeps seeing while Consul elects a
		// leader (a consistent read would wait for one).
		q := &api.QueryOptions{WaitIndex: index, WaitTime: wait, AllowStale: true}
		v, meta, err := w.read(w.clients[i], q.WithContext(qctx))
		cancel()
		seen := mono()
		if err != nil {
			i = (i + 1) % len(w.clients) // that server may be down
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
			continue
		}
		if first || v != w.view() {
			first = false
			w.mu.Lock()
			w.last = v
			w.mu.Unlock()
			exists := v.exists
			r := record{Ev: evKey, Use: w.use, Mono: seen, Index: v.index, Exists: &exists, Session: v.session, ID: v.holder}
			if v.holders != "" {
				r.Holders = strings.Split(v.holders, ",")
			}
			w.led.add(r)
		}
		if meta.LastIndex < index {
			index = 0
		} else {
			index = meta.LastIndex
		}
	}
}

// read is one blocking read of the key, or of the semaphore's prefix.
func (w *watcher) read(c *api.Client, q *api.QueryOptions) (keyView, *api.QueryMeta, error) {
	if w.use != useSemaphore {
		pair, meta, err := c.KV().Get(w.key, q)
		if err != nil {
			return keyView{}, nil, err
		}
		v := keyView{index: meta.LastIndex}
		if pair != nil {
			v.index, v.exists, v.session, v.holder = pair.ModifyIndex, true, pair.Session, holderID(pair)
		}
		return v, meta, nil
	}
	pairs, meta, err := c.KV().List(w.key+"/", q)
	if err != nil {
		return keyView{}, nil, err
	}
	return keyView{index: meta.LastIndex, exists: len(pairs) > 0, holders: strings.Join(semHolders(w.key, pairs), ",")}, meta, nil
}

// semHolders are the sessions listed as holders in the semaphore's .lock
// whose contender key <prefix>/<session> is held by that session: the
// slots a consulelect holder would confirm (lock.Semaphore's layout, which
// is api.Semaphore's), sorted.
func semHolders(prefix string, pairs api.KVPairs) []string {
	var lock struct{ Holders map[string]bool }
	contenders := map[string]string{}
	for _, p := range pairs {
		switch name := strings.TrimPrefix(p.Key, prefix+"/"); {
		case name == api.DefaultSemaphoreKey:
			_ = json.Unmarshal(p.Value, &lock)
		case !strings.Contains(name, "/"):
			contenders[name] = p.Session
		}
	}
	var out []string
	for h, ok := range lock.Holders {
		if ok && contenders[h] == h {
			out = append(out, h)
		}
	}
	slices.Sort(out)
	return out
}

// holderID is the identity in a consulelect lock value, or "".
func holderID(pair *api.KVPair) string {
	var v struct {
		ID string `json:"id"`
	}
	if pair.Flags != api.LockFlagValue || json.Unmarshal(pair.Value, &v) != nil {
		return ""
	}
	return v.ID
}
