package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/lock"
)

// report prints the runs side by side, then what they show.
func report(out io.Writer, rs []result) {
	if len(rs) == 0 {
		return
	}
	const labelW, colW = 38, 20
	row := func(label string, cell func(r result) string) {
		fmt.Fprintf(out, "  %-*s", labelW, label)
		for _, r := range rs {
			fmt.Fprintf(out, "  %-*s", colW, cell(r))
		}
		fmt.Fprintln(out)
	}
	fmt.Fprintln(out)
	row("", func(r result) string { return implName(r.impl) })
	row("", func(r result) string {
		if r.guard {
			return "+ guard"
		}
		return "no guard"
	})
	row("initial stock", func(r result) string { return fmt.Sprint(r.stock) })
	row("items sold (sales in the ledger)", func(r result) string { return fmt.Sprint(r.sold) })
	row("stock left", func(r result) string { return fmt.Sprint(r.stockLeft) })
	row("oversold (sold − initial stock)", func(r result) string { return fmt.Sprint(r.oversold()) })
	row("lowest stock ever written", func(r result) string { return fmt.Sprint(r.lowest) })
	row("stale writes applied", func(r result) string { return fmt.Sprint(r.stale) })
	row("  of them with an older token", func(r result) string { return fmt.Sprint(r.tokenBack) })
	row("stale writes refused by the guard", func(r result) string {
		if !r.guard {
			return "-"
		}
		return fmt.Sprint(r.refused) + refusedBy(r.refusedBy)
	})
	row("sales dropped (holder saw the loss)", func(r result) string { return fmt.Sprint(r.dropped) })
	row("SIGKILL mid-sale → next sale", func(r result) string { return dur(r.killed != "", r.failover, 10*time.Millisecond) })
	row("SIGSTOP mid-sale → lock moved on", func(r result) string {
		if r.frozen != "" && r.lockMoved == 0 {
			return "not during the freeze"
		}
		return dur(r.frozen != "", r.lockMoved, 10*time.Millisecond)
	})
	row("freeze (SIGSTOP → SIGCONT)", func(r result) string { return dur(r.frozen != "", r.froze, 10*time.Millisecond) })
	row("the frozen seller, thawed", func(r result) string { return orDash(r.thaw) })
	row("a sale every (median)", func(r result) string { return dur(true, r.saleP50, 100*time.Microsecond) })
	row("run time", func(r result) string { return dur(true, r.elapsed, 100*time.Millisecond) })
	fmt.Fprintln(out)
	for _, r := range rs {
		verdict := "no oversell"
		switch {
		case r.oversold() > 0:
			verdict = fmt.Sprintf("OVERSOLD by %d", r.oversold())
		case r.oversold() < 0 || r.stockLeft != 0:
			verdict = fmt.Sprintf("did not sell out (%d sold, %d left)", r.sold, r.stockLeft)
		}
		if r.lowest < 0 {
			verdict += ", NEGATIVE STOCK"
		}
		fmt.Fprintf(out, "  %-*s %s\n", labelW, r.label()+":", verdict)
	}
	fmt.Fprint(out, `
  A stale write is a sale computed from a stock count that another sale
  had already changed (the ledger keeps what each seller read and wrote):
  the work of a holder that lost its lock without knowing it. The guard is
  one Consul transaction whose conditions Consul evaluates as it applies
  the write: check-session (the lock key is still held by the writer's
  session), the fencing token (no higher token has applied a sale) and a
  CAS on the stock's ModifyIndex. "refused" counts the writes it turned
  away, by the first failed check.
`)
	seen := map[string]bool{}
	for _, r := range rs {
		seen[r.impl] = true
		if r.frozen != "" {
			seen["freeze-"+r.freezeAt] = true
		}
	}
	if seen["freeze-write"] {
		fmt.Fprint(out, `
  The freeze strikes right after the frozen seller's last check that it
  still holds its lock, as its write goes out (-freeze-at write): no check
  by the holder can cover that moment, only a guard evaluated by Consul.
`)
	}
	if seen["freeze-pay"] {
		fmt.Fprint(out, `
  The freeze strikes while the buyer pays, before the holder's last check
  of its lock (-freeze-at pay): after the thaw that check races with the
  lock's own notice of the loss (for the consulelect lock a timer at its
  demote deadline, for api.Lock the answer to its monitor's query).
`)
	}
	if seen["ours"] {
		fmt.Fprintf(out, `
  consulelect lock: a stopped holder's session ends once its check misses
  its TTL (CheckTTL %v), then Consul's lock-delay (%v) runs.
`, lock.DefaultCheckTTL, lock.DefaultLockDelay)
	}
	if seen["apilock"] {
		fmt.Fprintf(out, `
  api.Lock (defaults): a stopped holder's session lives until its TTL
  (%s, which Consul lets run up to twice) is out, then Consul's
  lock-delay (15s) runs.
`, api.DefaultLockSessionTTL)
	}
}

// refusedBy formats the refusals by first failed check.
func refusedBy(by map[string]int) string {
	if len(by) == 0 {
		return ""
	}
	names := make([]string, 0, len(by))
	for k := range by {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, k := range names {
		parts = append(parts, fmt.Sprintf("%s %d", k, by[k]))
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func dur(ok bool, d, round time.Duration) string {
	if !ok {
		return "-"
	}
	return d.Round(round).String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
