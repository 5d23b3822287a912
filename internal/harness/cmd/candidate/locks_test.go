package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/goleak"

	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/leader"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, consultest.LeakOptions()...)
}

// TestLockLoops runs the lock loops of three "candidates" (one Session
// each, in this process) on one dev agent and checks their ledgers: every
// hold is followed by its release, the mutex never has two holders and the
// semaphore never more than its limit, by the ledgers' own times, and the
// mutex's tokens increase.
func TestLockLoops(t *testing.T) {
	a := consultest.DevServer(t, consultest.Options{})
	client := a.Client(t)
	dir := t.TempDir()
	o := lockOptions{key: "t/lock", semPrefix: "t/sem", semLimit: 2, holdMin: 5 * time.Millisecond, holdMax: 40 * time.Millisecond,
		pauseMin: time.Millisecond, pauseMax: 10 * time.Millisecond, unlockTimeout: 5 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	var all []*lockLoops
	var paths []string
	for _, id := range []string{"c1", "c2", "c3"} {
		path := filepath.Join(dir, id+".jsonl")
		led, err := openLedger(path, id)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(led.close)
		loops, err := startLocks(ctx, client, leader.Config{Identity: id}, o, led, hclog.NewNullLogger())
		if err != nil {
			t.Fatal(err)
		}
		all, paths = append(all, loops), append(paths, path)
	}
	time.Sleep(1500 * time.Millisecond)
	cancel()
	for _, l := range all {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := l.stop(sctx); err != nil {
			t.Error(err)
		}
		scancel()
	}

	type hold struct {
		id         string
		token      uint64
		start, end int64
	}
	holds := map[string][]hold{}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		open := map[string]*hold{}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var e event
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatal(err)
			}
			switch e.Ev {
			case "hold":
				if open[e.Use] != nil {
					t.Errorf("%s: %s hold %d before the release of %d", e.ID, e.Use, e.Token, open[e.Use].token)
				}
				open[e.Use] = &hold{id: e.ID, token: e.Token, start: e.Mono}
			case "release":
				h := open[e.Use]
				if h == nil || h.token != e.Token || e.Mono < h.start || e.Reason == "" {
					t.Fatalf("%s: release %+v does not end the open hold %+v", e.ID, e, h)
				}
				h.end, open[e.Use] = e.Mono, nil
				holds[e.Use] = append(holds[e.Use], *h)
			}
		}
		f.Close()
		for use, h := range open {
			if h != nil {
				t.Errorf("%s: %s hold %d never released", h.id, use, h.token)
			}
		}
	}
	for use, limit := range map[string]int{useMutex: 1, useSemaphore: 2} {
		hs := holds[use]
		if len(hs) < 10 {
			t.Errorf("%s: only %d holds", use, len(hs))
		}
		sort.Slice(hs, func(i, j int) bool { return hs[i].start < hs[j].start })
		for i, h := range hs {
			active := 1
			for _, o := range hs[:i] {
				if o.end > h.start {
					active++
				}
			}
			if active > limit {
				t.Errorf("%s: %d holders at once when %s took token %d (limit %d)", use, active, h.id, h.token, limit)
			}
			if use == useMutex && i > 0 && h.token <= hs[i-1].token {
				t.Errorf("mutex: token %d after %d", h.token, hs[i-1].token)
			}
		}
		t.Logf("%s: %d holds", use, len(hs))
	}
}
