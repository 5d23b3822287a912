package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/hashicorp/consul/api"
)

// audit reads the outcome from Consul: the stock left and the ledger, one
// entry per applied sale, in the order Consul applied them (their
// CreateIndex). Each entry records the stock its seller read and wrote,
// so the ledger tells every write that was made from a stale count.
func (sh *shop) audit(ctx context.Context) error {
	q := (&api.QueryOptions{RequireConsistent: true}).WithContext(ctx)
	pair, _, err := sh.client.KV().Get(sh.keys.stock, q)
	if err != nil {
		return fmt.Errorf("reading the stock: %w", err)
	}
	if pair == nil {
		return fmt.Errorf("%s is gone", sh.keys.stock)
	}
	if sh.r.stockLeft, err = strconv.Atoi(string(pair.Value)); err != nil {
		return fmt.Errorf("stock %q: %w", pair.Value, err)
	}
	pairs, _, err := sh.client.KV().List(sh.keys.sold, q)
	if err != nil {
		return fmt.Errorf("reading the ledger: %w", err)
	}
	sort.Slice(pairs, func(i, j int) bool { return pairs[i].CreateIndex < pairs[j].CreateIndex })
	sh.r.sold = len(pairs)
	sh.r.lowest = sh.r.stockLeft
	left, maxToken := sh.s.stock, uint64(0)
	var at []int64
	for _, p := range pairs {
		var e sale
		if err := json.Unmarshal(p.Value, &e); err != nil {
			return fmt.Errorf("ledger entry %s: %w", p.Key, err)
		}
		if e.Before != left {
			sh.r.stale++ // sold from a count another sale had already changed
		}
		if e.Token < maxToken {
			sh.r.tokenBack++ // applied by a holder older than one that applied before it
		}
		left, maxToken = e.After, max(maxToken, e.Token)
		sh.r.lowest = min(sh.r.lowest, e.After)
		at = append(at, e.At)
	}
	sh.r.saleP50 = medianGap(at)
	return nil
}

// medianGap is the median time between consecutive instants (unix
// nanoseconds, in any order).
func medianGap(at []int64) time.Duration {
	if len(at) < 2 {
		return 0
	}
	sorted := append([]int64(nil), at...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	gaps := make([]int64, 0, len(sorted)-1)
	for i := 1; i < len(sorted); i++ {
		gaps = append(gaps, sorted[i]-sorted[i-1])
	}
	sort.Slice(gaps, func(i, j int) bool { return gaps[i] < gaps[j] })
	return time.Duration(gaps[len(gaps)/2])
}
