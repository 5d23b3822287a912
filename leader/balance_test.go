package leader_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/leader"
)

// replica is one process of a balanced Group: K electors on the same keys.
type replica struct {
	name     string
	proxy    *consultest.Proxy
	group    *leader.Group
	electors []*leader.Elector
}

// startReplica starts a balanced group of electors on keys, through a
// proxy of its own (so that it can be cut off), recording terms in ls.
func startReplica(t *testing.T, srv *consultest.Agent, name string, keys []string, ls map[string]*ledger) *replica {
	t.Helper()
	r := &replica{name: name, proxy: consultest.NewProxy(t, srv.HTTPAddr)}
	client, err := api.NewClient(r.proxy.Config(srv))
	if err != nil {
		t.Fatal(err)
	}
	r.group, err = leader.NewGroup(client, leader.GroupConfig{Balance: true, Name: "balance-test", Identity: name,
		StabilityWindow: time.Second, Logger: testLogger(t, name)})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.group.Start(); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		e, err := leader.New(client, leader.Config{Key: k, Identity: name}, leader.WithGroup(r.group),
			leader.WithLeaderFunc(ls[k].work(name)))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Start(); err != nil {
			t.Fatal(err)
		}
		r.electors = append(r.electors, e)
	}
	t.Cleanup(r.stop)
	return r
}

func (r *replica) stop() {
	r.proxy.Unfreeze()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, e := range r.electors {
		_ = e.Stop(ctx)
	}
	_ = r.group.Stop(ctx)
}

// loads reads who holds each key from Consul: keys led per identity.
func loads(t *testing.T, client *api.Client, prefix string) map[string]int {
	t.Helper()
	pairs, _, err := client.KV().List(prefix, &api.QueryOptions{RequireConsistent: true})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, p := range pairs {
		var h leader.Holder
		if p.Session != "" && json.Unmarshal(p.Value, &h) == nil {
			out[h.ID]++
		}
	}
	return out
}

func balanced(got map[string]int, names []string, want int) bool {
	total := 0
	for _, n := range names {
		if got[n] < want-1 || got[n] > want+1 {
			return false
		}
		total += got[n]
	}
	return total >= want*len(names)-1
}

func handoffs(ls map[string]*ledger) int {
	n := 0
	for _, l := range ls {
		for _, r := range l.ended() {
			if errors.Is(r.reason, leader.ErrHandedOff) {
				n++
			}
		}
	}
	return n
}

// 60 keys balanced over replicas that come and go: 3 joined one after
// the other lead 20 ± 1 each; a fourth joins: 15 ± 1 each, moving about the
// fewest keys that must move (15); one is cut off (a crash for Consul): the
// other three lead 20 ± 1 within about one crash failover. No key ever has
// two overlapping terms, and tokens increase on every key.
func TestGroupBalance(t *testing.T) {
	// Every follower elector keeps a blocking query open: 4 replicas × 60
	// keys from one address pass the agent's default limit of 200.
	srv := consultest.DevServer(t, consultest.Options{Extra: map[string]any{
		"limits": map[string]any{"http_max_conns_per_client": 1000}}})
	client := srv.Client(t)
	const k = 60
	keys := make([]string, k)
	ls := map[string]*ledger{}
	for i := range keys {
		keys[i] = fmt.Sprintf("svc/shard/%02d", i)
		ls[keys[i]] = newLedger()
	}
	var reps []*replica
	var names []string
	for i := 0; i < 3; i++ {
		name := fmt.Sprintf("r%d", i)
		reps, names = append(reps, startReplica(t, srv, name, keys, ls)), append(names, name)
		want := (k + len(names) - 1) / len(names)
		start := time.Now()
		waitFor(t, 30*time.Second, fmt.Sprintf("%d replicas balanced", len(names)), func() bool {
			return balanced(loads(t, client, "svc/shard/"), names, want)
		})
		t.Logf("%s joined: balanced after %v: %v", name, time.Since(start), loads(t, client, "svc/shard/"))
	}

	before := handoffs(ls)
	names = append(names, "r3")
	reps = append(reps, startReplica(t, srv, "r3", keys, ls))
	start := time.Now()
	waitFor(t, 30*time.Second, "4 replicas balanced", func() bool {
		return balanced(loads(t, client, "svc/shard/"), names, k/4)
	})
	time.Sleep(time.Second) // any further moves would show now
	moved := handoffs(ls) - before
	t.Logf("r3 joined: balanced after %v, %d keys moved (fewest possible: %d): %v", time.Since(start), moved, k/4, loads(t, client, "svc/shard/"))
	if moved > k/4+k/40 { // within 10% of the minimum
		t.Errorf("%d keys moved for a join; the minimum is %d", moved, k/4)
	}

	reps[1].proxy.Freeze() // r1 is cut off: its check lapses, its sessions go
	cut := time.Now()
	alive := []string{"r0", "r2", "r3"}
	waitFor(t, 30*time.Second, "3 replicas balanced after the cut", func() bool {
		return balanced(loads(t, client, "svc/shard/"), alive, k/3)
	})
	t.Logf("r1 cut off: the other three balanced after %v: %v", time.Since(cut), loads(t, client, "svc/shard/"))

	reps[1].proxy.Unfreeze()
	for _, r := range reps {
		r.stop()
	}
	sort.Strings(keys)
	for _, key := range keys {
		ls[key].checkNoOverlap(t)
	}
}

// A replica whose electors stop while its Group (and check) still runs is
// live in the line but takes no key: the others hand it one, see it not
// taken, and leave it out, instead of taking a key's leader away every
// few hundred milliseconds for as long as the stop lasts.
func TestBalanceLeavesOutAReplicaThatTakesNothing(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{Extra: map[string]any{
		"limits": map[string]any{"http_max_conns_per_client": 1000}}})
	client := srv.Client(t)
	const k = 30
	keys := make([]string, k)
	ls := map[string]*ledger{}
	for i := range keys {
		keys[i] = fmt.Sprintf("svc/drain/%02d", i)
		ls[keys[i]] = newLedger()
	}
	var reps []*replica
	names := []string{"a", "b", "c"}
	for _, n := range names {
		reps = append(reps, startReplica(t, srv, n, keys, ls))
	}
	waitFor(t, 30*time.Second, "balanced", func() bool { return balanced(loads(t, client, "svc/drain/"), names, k/3) })
	ctx := context.Background()
	for _, e := range reps[2].electors { // c's electors stop; its Group runs on
		if err := e.Stop(ctx); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "a and b lead every key", func() bool {
		l := loads(t, client, "svc/drain/")
		return l["a"]+l["b"] == k
	})
	before := handoffs(ls)
	time.Sleep(3 * time.Second)
	moved := handoffs(ls) - before
	t.Logf("%d keys handed toward the draining replica in 3s", moved)
	if moved > 2 { // one try from each of a and b, then it is left out
		t.Errorf("%d handoffs toward a replica that takes nothing", moved)
	}
	// A Group's leader follows no outside requests (that is one blocking
	// query per key): RequestHandOff says so at once. HandOff works.
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := leader.RequestHandOff(rctx, client, keys[0], ""); !errors.Is(err, leader.ErrNoCandidate) {
		t.Errorf("RequestHandOff in a Group: %v, want ErrNoCandidate", err)
	}
	for _, e := range reps[0].electors {
		if e.IsLeader() {
			if err := e.HandOff(rctx, "b"); err != nil {
				t.Fatalf("HandOff in a balanced Group: %v", err)
			}
			waitFor(t, 5*time.Second, "b to lead the key handed to it", func() bool { return leaderOfKey(t, client, e.Config().Key) == "b" })
			break
		}
	}
	for _, key := range keys {
		ls[key].checkNoOverlap(t)
	}
}

// leaderOfKey is the identity holding key, "" for none.
func leaderOfKey(t *testing.T, client *api.Client, key string) string {
	h, err := leader.Lookup(context.Background(), client, key)
	if err != nil {
		t.Fatal(err)
	}
	if h == nil {
		return ""
	}
	return h.ID
}
