package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/lock"
)

// sellerConfig is what one seller process is told on its command line.
type sellerConfig struct {
	addr   string        // Consul HTTP address
	impl   string        // "ours" or "apilock"
	guard  bool          // fence the write (see guardedWrite)
	name   string        // seller-1, ...
	prefix string        // KV prefix of the shop
	item   string        // what is sold
	pay    time.Duration // how long a buyer takes to pay, between read and write
}

// sellerArgs is the command line that starts a seller with cfg (after the
// "-seller" that selects the mode).
func sellerArgs(cfg sellerConfig) []string {
	return []string{"-seller",
		"-consul", cfg.addr, "-impl", cfg.impl, "-guard=" + strconv.FormatBool(cfg.guard),
		"-name", cfg.name, "-prefix", cfg.prefix, "-item", cfg.item, "-pay", cfg.pay.String()}
}

// sellerMain runs the seller mode with args (what follows "-seller") and
// returns the exit code. It stops on SIGTERM or SIGINT.
func sellerMain(args []string) int {
	fs := flag.NewFlagSet("example-shop -seller", flag.ContinueOnError)
	var cfg sellerConfig
	fs.StringVar(&cfg.addr, "consul", "127.0.0.1:8500", "Consul HTTP address")
	fs.StringVar(&cfg.impl, "impl", "ours", `lock: "ours" (consulelect lock) or "apilock" (Consul's api.Lock)`)
	fs.BoolVar(&cfg.guard, "guard", true, "fence each write with check-session, the token and a CAS")
	fs.StringVar(&cfg.name, "name", fmt.Sprintf("seller-%d", os.Getpid()), "seller name")
	fs.StringVar(&cfg.prefix, "prefix", "shop", "KV prefix")
	fs.StringVar(&cfg.item, "item", "widget", "item sold")
	fs.DurationVar(&cfg.pay, "pay", 25*time.Millisecond, "time a buyer takes to pay")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := sell(ctx, os.Stdout, cfg); err != nil && ctx.Err() == nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", cfg.name, err)
		return 1
	}
	return 0
}

// keys are the Consul keys of one item's shop.
type keys struct {
	stock string // the count left, a decimal number
	fence string // the highest fencing token that applied a sale
	sold  string // the ledger: one key per applied sale under this prefix
	lock  string // the lock that sellers take for a sale
}

// keysFor returns the keys of item's shop under prefix.
func keysFor(prefix, item string) keys {
	return keys{
		stock: prefix + "/stock/" + item,
		fence: prefix + "/fence/" + item,
		sold:  prefix + "/sold/" + item + "/",
		lock:  prefix + "/lock/" + item,
	}
}

// sale is a ledger entry: one item sold, as the seller saw it.
type sale struct {
	Seller string `json:"seller"`
	Token  uint64 `json:"token"`  // the fencing token of the hold it was sold under
	Before int    `json:"before"` // the stock the seller read
	After  int    `json:"after"`  // the stock it wrote
	At     int64  `json:"at"`     // unix nanoseconds, when the write was sent
}

// A seller is one seller process: it serves buyer after buyer, each under
// the lock, until it reads a stock of 0. It reports each step as a line on
// out for the coordinator (see parseEvent):
//
//	midsale <token> <stock>       holds the lock, has read the stock, the buyer pays
//	sold <token> <before> <after> the sale was applied
//	refused <token> <checks>      the guard refused the write (which checks failed)
//	dropped <token> <cause>       the seller saw the lock lost and dropped the sale
//	freezing <token> <stock>      on the coordinator's cue: freeze me now (before my write)
//	out                           the stock is 0: the seller is done
type seller struct {
	cfg    sellerConfig
	client *api.Client
	keys   keys
	out    io.Writer
	cue    chan os.Signal // SIGUSR1: freeze right before the next write
	cont   chan os.Signal // SIGCONT: the coordinator thawed us
}

// sell runs one seller until the stock is 0 or ctx ends.
func sell(ctx context.Context, out io.Writer, cfg sellerConfig) error {
	client, err := newClient(cfg.addr)
	if err != nil {
		return err
	}
	s := &seller{cfg: cfg, client: client, keys: keysFor(cfg.prefix, cfg.item), out: out,
		cue: make(chan os.Signal, 1), cont: make(chan os.Signal, 1)}
	signal.Notify(s.cue, syscall.SIGUSR1)
	signal.Notify(s.cont, syscall.SIGCONT)
	defer signal.Stop(s.cue)
	defer signal.Stop(s.cont)
	var lk locker
	switch cfg.impl {
	case "ours":
		lk, err = newOurLocker(client, cfg.name, s.keys.lock)
	case "apilock":
		lk, err = newAPILocker(client, cfg.name, s.keys.lock)
	default:
		err = fmt.Errorf("unknown -impl %q", cfg.impl)
	}
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		lk.close(cctx)
	}()
	for seq := 1; ; seq++ {
		g, err := lk.lock(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			fmt.Fprintf(os.Stderr, "%s: lock: %v (retrying)\n", cfg.name, err)
			if !sleep(ctx, 200*time.Millisecond) {
				return ctx.Err()
			}
			continue
		}
		done, err := s.serve(ctx, g, seq)
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		if uerr := g.unlock(uctx); uerr != nil && !errors.Is(uerr, lock.ErrNotHeld) { // not held: lost, and seen
			fmt.Fprintf(os.Stderr, "%s: unlock: %v\n", cfg.name, uerr)
		}
		cancel()
		switch {
		case err != nil && ctx.Err() != nil:
			return ctx.Err()
		case err != nil: // a failed request: the next buyer reads again
			fmt.Fprintf(os.Stderr, "%s: sale: %v\n", cfg.name, err)
		case done:
			s.report("out")
			return nil
		}
	}
}

// serve sells one item to one buyer under the held lock g: read the stock,
// let the buyer pay, write the sale. It reports whether the stock is 0.
func (s *seller) serve(ctx context.Context, g *grant, seq int) (soldOut bool, err error) {
	st, err := s.read(ctx)
	if err != nil {
		return false, err
	}
	if st.stock <= 0 {
		return true, nil
	}
	s.report("midsale %d %d", g.token, st.stock)
	// The buyer pays. This is where the coordinator's SIGKILL strikes (and
	// its SIGSTOP with -freeze-at pay): the process holds the lock and
	// believes st is the stock.
	select {
	case <-time.After(s.cfg.pay):
	case <-g.ctx.Done():
	}
	// Correct holder code stops once the lock says it is lost. After a
	// long freeze that check races with the lock's own timers and watchers
	// waking up, so it cannot be the only line of defence: the guard is.
	if g.ctx.Err() != nil {
		s.report("dropped %d %s", g.token, word(context.Cause(g.ctx)))
		return false, nil
	}
	select {
	case <-s.cue:
		// Fault injection on the coordinator's cue: the process is frozen
		// (SIGSTOP, later SIGCONT) right after the holder's last check of
		// its lock, as its write is about to go out: the moment that no
		// check by the holder can cover, a stop-the-world pause at the
		// worst time. It asks for the SIGSTOP and waits for the SIGCONT,
		// so that nothing goes out before the freeze has taken hold (a
		// process that sends itself SIGSTOP runs on for a moment).
		select {
		case <-s.cont:
		default:
		}
		s.report("freezing %d %d", g.token, st.stock)
		select {
		case <-s.cont:
		case <-ctx.Done():
			return false, ctx.Err()
		}
	default:
	}
	entry := sale{Seller: s.cfg.name, Token: g.token, Before: st.stock, After: st.stock - 1, At: time.Now().UnixNano()}
	key := fmt.Sprintf("%s%s-%06d", s.keys.sold, s.cfg.name, seq)
	var failed []string
	if s.cfg.guard {
		failed, err = s.guardedWrite(ctx, g, st, key, entry)
	} else {
		err = s.unguardedWrite(ctx, g, key, entry)
	}
	switch {
	case err != nil:
		return false, err
	case len(failed) > 0:
		s.report("refused %d %s", g.token, strings.Join(failed, ","))
	default:
		s.report("sold %d %d %d", g.token, entry.Before, entry.After)
	}
	return false, nil
}

// snapshot is one read of the stock and the fence.
type snapshot struct {
	stock      int
	stockIndex uint64 // the stock key's ModifyIndex
	fence      uint64 // the last token that applied a sale (0: none yet)
	fenceIndex uint64 // the fence key's ModifyIndex (0: no fence key yet)
}

// read reads the stock and the fence in one transaction.
func (s *seller) read(ctx context.Context) (snapshot, error) {
	ok, resp, _, err := s.client.Txn().Txn(api.TxnOps{
		{KV: &api.KVTxnOp{Verb: api.KVGet, Key: s.keys.stock}},
		{KV: &api.KVTxnOp{Verb: api.KVGetOrEmpty, Key: s.keys.fence}},
	}, (&api.QueryOptions{}).WithContext(ctx))
	switch {
	case err != nil:
		return snapshot{}, err
	case !ok:
		return snapshot{}, fmt.Errorf("reading the stock: %s", txnErrors(resp))
	}
	stock, fence := resp.Results[0].KV, resp.Results[1].KV
	n, err := strconv.Atoi(string(stock.Value))
	if err != nil {
		return snapshot{}, fmt.Errorf("stock %q: %w", stock.Value, err)
	}
	st := snapshot{stock: n, stockIndex: stock.ModifyIndex, fenceIndex: fence.ModifyIndex}
	if len(fence.Value) > 0 {
		if st.fence, err = strconv.ParseUint(string(fence.Value), 10, 64); err != nil {
			return snapshot{}, fmt.Errorf("fence %q: %w", fence.Value, err)
		}
	}
	return st, nil
}

// The checks of the guard, named as the seller reports them.
const (
	checkSession = "check-session"
	checkToken   = "token"
	checkStock   = "stock-cas"
	checkLedger  = "ledger"
)

// guardedWrite applies the sale only if the seller is still entitled to:
// one Consul transaction, which Consul applies whole or not at all, and
// whose conditions Consul itself evaluates at the moment it applies the
// write. That moment is what matters: a holder may have been frozen (or
// delayed, or cut off) for any time between its last look at the lock and
// the arrival of its write, and nothing it checked before sending is
// still true then. The conditions:
//
//  1. check-session on the lock key: the key is still held by our session.
//     A holder whose session Consul invalidated (its process crashed, or
//     was frozen past its TTL, and another seller took the lock since) is
//     refused even if it never noticed.
//  2. the fencing token: the fence key holds the highest token that ever
//     applied a sale. We refuse to write if ours is lower (checked here,
//     against the value read with the stock), and the write is a CAS on
//     the fence key's ModifyIndex from that same read, so the check and
//     the write are one atomic step: a write carrying a token lower than
//     the last one applied can never apply. This is the rule any store
//     can enforce with Held.Token (strictly increasing across holders),
//     even a store that knows nothing of Consul sessions.
//  3. a CAS on the stock key's ModifyIndex: the count we decrement is the
//     count we read, not one that another seller has changed since.
//  4. the ledger entry is created, never overwritten.
//
// It returns the failed checks when Consul refused the write (Consul
// reports each failed operation), nil when it applied it.
func (s *seller) guardedWrite(ctx context.Context, g *grant, st snapshot, key string, entry sale) ([]string, error) {
	if g.token < st.fence {
		return []string{checkToken}, nil // a higher token already applied: stale
	}
	value, _ := json.Marshal(entry)
	checks := []string{checkSession, checkToken, checkStock, checkLedger}
	ok, resp, _, err := s.client.Txn().Txn(api.TxnOps{
		{KV: &api.KVTxnOp{Verb: api.KVCheckSession, Key: s.keys.lock, Session: g.session}},
		{KV: &api.KVTxnOp{Verb: api.KVCAS, Key: s.keys.fence, Index: st.fenceIndex, Value: []byte(strconv.FormatUint(g.token, 10))}},
		{KV: &api.KVTxnOp{Verb: api.KVCAS, Key: s.keys.stock, Index: st.stockIndex, Value: []byte(strconv.Itoa(entry.After))}},
		{KV: &api.KVTxnOp{Verb: api.KVCAS, Key: key, Index: 0, Value: value}},
	}, (&api.QueryOptions{}).WithContext(ctx))
	switch {
	case err != nil:
		return nil, err
	case ok:
		return nil, nil
	case resp == nil || len(resp.Errors) == 0:
		return nil, errors.New("write refused without errors")
	}
	var failed []string
	for _, e := range resp.Errors {
		if e.OpIndex >= 0 && e.OpIndex < len(checks) {
			failed = append(failed, checks[e.OpIndex])
		}
	}
	return failed, nil
}

// unguardedWrite applies the sale as a plain write: the same keys in one
// transaction (so the ledger and the stock always agree), but with no
// condition. It trusts the lock alone.
func (s *seller) unguardedWrite(ctx context.Context, g *grant, key string, entry sale) error {
	value, _ := json.Marshal(entry)
	ok, resp, _, err := s.client.Txn().Txn(api.TxnOps{
		{KV: &api.KVTxnOp{Verb: api.KVSet, Key: s.keys.fence, Value: []byte(strconv.FormatUint(g.token, 10))}},
		{KV: &api.KVTxnOp{Verb: api.KVSet, Key: s.keys.stock, Value: []byte(strconv.Itoa(entry.After))}},
		{KV: &api.KVTxnOp{Verb: api.KVSet, Key: key, Value: value}},
	}, (&api.QueryOptions{}).WithContext(ctx))
	if err == nil && !ok {
		err = fmt.Errorf("write failed: %s", txnErrors(resp))
	}
	return err
}

// report writes one line for the coordinator.
func (s *seller) report(format string, args ...any) {
	fmt.Fprintf(s.out, format+"\n", args...)
}

// txnErrors formats the errors of a failed transaction.
func txnErrors(resp *api.TxnResponse) string {
	if resp == nil {
		return "no response"
	}
	var parts []string
	for _, e := range resp.Errors {
		parts = append(parts, fmt.Sprintf("op %d: %s", e.OpIndex, e.What))
	}
	return strings.Join(parts, "; ")
}

// word turns an error into one token for the line protocol.
func word(err error) string {
	if err == nil {
		return "-"
	}
	return strings.Join(strings.Fields(err.Error()), "_")
}

// newClient returns a Consul client for addr.
func newClient(addr string) (*api.Client, error) {
	cfg := api.DefaultConfig()
	cfg.Address = addr
	return api.NewClient(cfg)
}

// sleep waits d or until ctx ends; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
