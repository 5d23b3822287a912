package main

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/internal/consultest"
)

// watcher follows the election key with blocking queries against the
// Consul servers (trying the next one when a server is down) and records,
// with CLOCK_MONOTONIC, every change it sees: which session holds the key.
// The checker uses it to date the moment a term's session stopped holding
// the key; the fault loop uses it to see who leads.
type watcher struct {
	key     string
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
}

func startWatcher(servers []*consultest.Agent, key string, led *ledger) (*watcher, error) {
	w := &watcher{key: key, led: led, done: make(chan struct{})}
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
		pair, meta, err := w.clients[i].KV().Get(w.key, q.WithContext(qctx))
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
		v := keyView{index: meta.LastIndex}
		if pair != nil {
			v.index, v.exists, v.session, v.holder = pair.ModifyIndex, true, pair.Session, holderID(pair)
		}
		if first || v != w.view() {
			first = false
			w.mu.Lock()
			w.last = v
			w.mu.Unlock()
			exists := v.exists
			w.led.add(record{Ev: evKey, Mono: seen, Index: v.index, Exists: &exists, Session: v.session, ID: v.holder})
		}
		if meta.LastIndex < index {
			index = 0
		} else {
			index = meta.LastIndex
		}
	}
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
