package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/consulelect/consulelect/internal/harness/consultest"
)

// TestMain runs the seller mode when the test binary is started as a
// seller (the shop starts sellers as copies of its own executable, here
// the test binary); otherwise it runs the tests with a dev agent and
// checks for leaked goroutines afterwards.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "-seller" {
		os.Exit(sellerMain(os.Args[2:]))
	}
	os.Exit(consultest.RunMain(m))
}

// A quick shop with the consulelect lock and guarded writes: 20 items,
// 3 seller processes, one SIGKILLed mid-sale, another frozen mid-sale
// right before its write until the lock has moved on. Not one item is
// oversold, the stock never goes negative, everything is sold, and the
// frozen seller's stale write is refused by the guard.
func TestShopNoOversell(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	s := settings{impl: "ours", guard: true, stock: 20, sellers: 3, pay: 25 * time.Millisecond,
		killAfter: 3, freezeAfter: 8, freezeSales: 2, maxFreeze: 15 * time.Second, freezeAt: "write",
		prefix: "shop", item: "widget"}
	var out bytes.Buffer
	start := time.Now()
	r, err := runShop(ctx, &out, srv.HTTPAddr, exe, s)
	t.Logf("run in %v:\n%s", time.Since(start).Round(time.Millisecond), out.String())
	if err != nil {
		t.Fatal(err)
	}
	var table bytes.Buffer
	report(&table, []result{r})
	t.Logf("%s", table.String())

	if r.oversold() != 0 {
		t.Errorf("oversold %d (sold %d of %d)", r.oversold(), r.sold, r.stock)
	}
	if r.sold != s.stock || r.stockLeft != 0 {
		t.Errorf("sold %d with %d left, want all %d sold", r.sold, r.stockLeft, s.stock)
	}
	if r.lowest < 0 {
		t.Errorf("the stock went down to %d", r.lowest)
	}
	if r.stale != 0 || r.tokenBack != 0 {
		t.Errorf("%d stale writes applied (%d with an older token)", r.stale, r.tokenBack)
	}
	if r.killed == "" || r.frozen == "" {
		t.Fatalf("faults not injected: killed %q, frozen %q", r.killed, r.frozen)
	}
	if r.lockMoved == 0 {
		t.Errorf("the lock did not move on during the %v freeze", r.froze)
	}
	// After the lock moved on, the frozen holder's session is gone: its
	// write can only have been refused, by check-session first.
	if r.thaw != "write refused" || r.refusedBy[checkSession] < 1 {
		t.Errorf("the thawed seller: %q, refusals %v; want its write refused by check-session", r.thaw, r.refusedBy)
	}
}

// The -runs list parses in order, and bad entries are refused.
func TestParseRuns(t *testing.T) {
	runs, err := parseRuns(settings{stock: 7}, "ours/guard, apilock/plain")
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].impl != "ours" || !runs[0].guard || runs[1].impl != "apilock" || runs[1].guard || runs[1].stock != 7 {
		t.Errorf("parsed %+v", runs)
	}
	for _, bad := range []string{"ours", "ours/maybe", "etcd/guard"} {
		if _, err := parseRuns(settings{}, bad); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("%q: err %v", bad, err)
		}
	}
}
