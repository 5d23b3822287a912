package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/consul/api"
)

// settings of one run of the shop.
type settings struct {
	impl        string        // "ours" or "apilock"
	guard       bool          // sellers fence their writes
	stock       int           // initial stock
	sellers     int           // seller processes
	pay         time.Duration // a buyer's payment, between the read and the write
	killAfter   int           // SIGKILL the next seller mid-sale once this many sales are reported (<0: no kill)
	freezeAfter int           // SIGSTOP the next seller mid-sale once this many are reported, after the kill's failover (<0: no freeze)
	freezeSales int           // SIGCONT once the other sellers sold this many during the freeze
	maxFreeze   time.Duration // SIGCONT after this long at the latest
	freezeAt    string        // "write": the seller freezes itself on cue after its last check; "pay": SIGSTOP while the buyer pays
	prefix      string        // KV prefix
	item        string        // what is sold
}

// label names a run for a person.
func (s settings) label() string {
	if s.guard {
		return implName(s.impl) + " + guard"
	}
	return implName(s.impl) + ", no guard"
}

// result is what one run measured. Every figure comes from this run:
// the ledger and the stock in Consul, the sellers' reports, the clock.
type result struct {
	settings
	sold      int // sales in the ledger
	reported  int // sales the sellers reported
	stockLeft int
	lowest    int // the lowest stock ever written (from the ledger)
	stale     int // sales applied on a stock count that was no longer current
	tokenBack int // sales applied with a token lower than one applied before
	refused   int // writes the guard refused
	refusedBy map[string]int
	dropped   int           // sales a holder dropped because it saw its lock lost
	killed    string        // the seller killed, "" if none
	failover  time.Duration // SIGKILL → the next sale
	frozen    string        // the seller frozen, "" if none
	froze     time.Duration // SIGSTOP → SIGCONT
	lockMoved time.Duration // SIGSTOP → the first sale by another seller (0: none during the freeze)
	thaw      string        // what the frozen seller did after SIGCONT
	elapsed   time.Duration // seeded → every seller done
	saleP50   time.Duration // median time between consecutive sales
}

// oversold is the sales beyond the stock there was.
func (r result) oversold() int { return r.sold - r.stock }

// proc is one seller process.
type proc struct {
	name    string
	cmd     *exec.Cmd
	stderr  *tail
	exited  bool
	midsale event // its last midsale report
}

// event is one line of a seller (see seller), or its exit.
type event struct {
	p      *proc
	kind   string // midsale, freezing, sold, refused, dropped, out, exit
	token  uint64
	stock  int // midsale: the stock read; sold: the stock before
	after  int // sold: the stock written
	detail string
	at     time.Time
}

// parseEvent parses one line of a seller.
func parseEvent(p *proc, line string) (event, bool) {
	f := strings.Fields(line)
	if len(f) == 0 {
		return event{}, false
	}
	ev := event{p: p, kind: f[0], at: time.Now()}
	num := func(i int) int {
		if i < len(f) {
			n, _ := strconv.Atoi(f[i])
			return n
		}
		return 0
	}
	if len(f) > 1 {
		ev.token, _ = strconv.ParseUint(f[1], 10, 64)
	}
	switch ev.kind {
	case "midsale", "freezing":
		ev.stock = num(2)
	case "sold":
		ev.stock, ev.after = num(2), num(3)
	case "refused", "dropped":
		if len(f) > 2 {
			ev.detail = f[2]
		}
	case "out":
	default:
		return event{}, false
	}
	return ev, true
}

// The fault plan, in order.
type phase int

const (
	beforeKill   phase = iota // waiting for killAfter sales
	killArmed                 // the next seller mid-sale is killed
	killed                    // waiting for the next sale
	beforeFreeze              // waiting for freezeAfter sales
	freezeArmed               // the next seller mid-sale is frozen
	freezeCued                // a seller was told to freeze before its write
	frozen                    // waiting for the lock to move on
	thawed                    // waiting for what the thawed seller does
	faultsDone
)

// shop is one run in progress. Only the goroutine of run touches it; the
// readers of the sellers' output send it events.
type shop struct {
	s      settings
	out    io.Writer
	client *api.Client
	keys   keys
	start  time.Time
	procs  []*proc
	events chan event
	wg     sync.WaitGroup // the readers
	live   int

	phase    phase
	killedP  *proc     // the seller killed
	frozenP  *proc     // the seller frozen (or cued to freeze)
	faultAt  time.Time // when the latest fault struck
	during   int       // sales by others during the freeze
	lastLeft int       // the stock after the latest reported sale
	r        result
}

// say narrates one step, with the time since the run started.
func (sh *shop) say(format string, args ...any) {
	fmt.Fprintf(sh.out, "  %7.2fs  %s\n", time.Since(sh.start).Seconds(), fmt.Sprintf(format, args...))
}

// runShop runs the shop once on the Consul agent at addr: it seeds the
// stock, starts s.sellers processes of exe in seller mode, injects the
// faults, waits until every seller is done (the stock is 0) and audits
// the ledger. It narrates on out.
func runShop(ctx context.Context, out io.Writer, addr, exe string, s settings) (result, error) {
	client, err := newClient(addr)
	if err != nil {
		return result{}, err
	}
	sh := &shop{s: s, out: out, client: client, keys: keysFor(s.prefix, s.item), events: make(chan event),
		lastLeft: s.stock, r: result{settings: s, refusedBy: map[string]int{}}}
	fmt.Fprintf(out, "\n%s: %d items, %d seller processes\n", s.label(), s.stock, s.sellers)
	sh.start = time.Now()
	if err := sh.seed(ctx); err != nil {
		return result{}, err
	}
	sh.phase = beforeKill
	if s.killAfter < 0 {
		sh.phase = beforeFreeze
		if s.freezeAfter < 0 {
			sh.phase = faultsDone
		}
	}
	sh.arm()
	err = sh.startSellers(exe, addr)
	if err == nil {
		err = sh.loop(ctx)
	}
	sh.stopAll()
	sh.wg.Wait()
	sh.r.elapsed = time.Since(sh.start)
	if err != nil {
		return sh.r, fmt.Errorf("%s: %w%s", s.label(), err, sh.stderrTails())
	}
	if err := sh.audit(ctx); err != nil {
		return sh.r, err
	}
	sh.say("every seller is done: %d sold (ledger), stock %d left", sh.r.sold, sh.r.stockLeft)
	return sh.r, nil
}

// seed resets the shop's keys and puts the initial stock.
func (sh *shop) seed(ctx context.Context) error {
	w := (&api.WriteOptions{}).WithContext(ctx)
	for _, prefix := range []string{sh.keys.stock, sh.keys.fence, sh.keys.sold, sh.keys.lock} {
		if _, err := sh.client.KV().DeleteTree(prefix, w); err != nil {
			return fmt.Errorf("resetting %s: %w", prefix, err)
		}
	}
	_, err := sh.client.KV().Put(&api.KVPair{Key: sh.keys.stock, Value: []byte(strconv.Itoa(sh.s.stock))}, w)
	if err == nil {
		sh.say("seeded %s = %d", sh.keys.stock, sh.s.stock)
	}
	return err
}

// startSellers starts the seller processes and their readers.
func (sh *shop) startSellers(exe, addr string) error {
	for i := 1; i <= sh.s.sellers; i++ {
		cfg := sellerConfig{addr: addr, impl: sh.s.impl, guard: sh.s.guard, name: fmt.Sprintf("seller-%d", i),
			prefix: sh.s.prefix, item: sh.s.item, pay: sh.s.pay}
		p := &proc{name: cfg.name, stderr: &tail{max: 4096}}
		p.cmd = exec.Command(exe, sellerArgs(cfg)...)
		p.cmd.Stderr = p.stderr
		// Its own process group (a ^C reaches only the coordinator, which
		// stops the sellers), and SIGKILL if the coordinator dies.
		p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
		stdout, err := p.cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := p.cmd.Start(); err != nil {
			return fmt.Errorf("starting %s: %w", p.name, err)
		}
		sh.procs = append(sh.procs, p)
		sh.live++
		sh.wg.Add(1)
		go sh.read(p, stdout)
	}
	sh.say("started %d sellers (%s%s), each serving buyer after buyer: lock, read the stock, the buyer pays (%v), write, unlock",
		sh.s.sellers, implName(sh.s.impl), map[bool]string{true: ", guarded writes", false: ", plain writes"}[sh.s.guard], sh.s.pay)
	return nil
}

// read forwards p's lines as events, then its exit (after which the
// process is reaped).
func (sh *shop) read(p *proc, stdout io.Reader) {
	defer sh.wg.Done()
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if ev, ok := parseEvent(p, sc.Text()); ok {
			sh.events <- ev
		}
	}
	_, _ = io.Copy(io.Discard, stdout)
	err := p.cmd.Wait()
	ev := event{p: p, kind: "exit", at: time.Now()}
	if err != nil {
		ev.detail = err.Error()
	}
	sh.events <- ev
}

// loop handles the sellers' events until every seller has exited.
func (sh *shop) loop(ctx context.Context) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for sh.live > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			sh.checkThaw(time.Now())
		case ev := <-sh.events:
			if err := sh.handle(ev); err != nil {
				return err
			}
			sh.arm()
		}
	}
	if sh.phase == frozen || sh.phase == thawed {
		sh.r.thaw = "no report"
	}
	return nil
}

// arm moves the fault plan on once enough sales were reported.
func (sh *shop) arm() {
	switch {
	case sh.phase == beforeKill && sh.r.reported >= sh.s.killAfter:
		sh.phase = killArmed
	case sh.phase == beforeFreeze && sh.s.freezeAfter < 0:
		sh.phase = faultsDone
	case sh.phase == beforeFreeze && sh.r.reported >= sh.s.freezeAfter:
		sh.phase = freezeArmed
	}
}

// handle follows one event of a seller: it injects the faults, narrates,
// and counts what the table shows.
func (sh *shop) handle(ev event) error {
	p := ev.p
	switch ev.kind {
	case "midsale":
		p.midsale = ev
		switch sh.phase {
		case killArmed:
			sh.signal(p, syscall.SIGKILL)
			sh.killedP, sh.faultAt, sh.phase = p, time.Now(), killed
			sh.r.killed = p.name
			sh.say("SIGKILL %s mid-sale: it holds the lock (token %d), read stock %d, its buyer is paying", p.name, ev.token, ev.stock)
		case freezeArmed:
			if sh.s.freezeAt == "write" {
				sh.signal(p, syscall.SIGUSR1) // see "freezing"
				sh.frozenP, sh.phase = p, freezeCued
				break
			}
			sh.signal(p, syscall.SIGSTOP)
			sh.frozenP, sh.faultAt, sh.phase = p, time.Now(), frozen
			sh.r.frozen = p.name
			sh.say("SIGSTOP %s mid-sale: frozen while its buyer pays; it holds the lock (token %d) and believes the stock is %d", p.name, ev.token, ev.stock)
		case thawed:
			if p == sh.frozenP { // its write failed with an error (see its stderr)
				sh.thawDone("write failed", "its write failed with an error; it serves the next buyer")
			}
		}
	case "sold":
		sh.r.reported++
		sh.sold(ev, sh.lastLeft)
		sh.lastLeft = ev.after
	case "refused":
		sh.r.refused++
		first := strings.Split(ev.detail, ",")[0]
		sh.r.refusedBy[first]++
		msg := fmt.Sprintf("REFUSED by the guard (failed: %s)", strings.ReplaceAll(ev.detail, ",", ", "))
		if sh.phase == thawed && p == sh.frozenP {
			sh.thawDone("write refused", fmt.Sprintf("wrote from the stock it read before the freeze (%d; now %d, token %d): %s", p.midsale.stock, sh.lastLeft, ev.token, msg))
		} else {
			sh.say("%s: write %s", p.name, msg)
		}
	case "dropped":
		sh.r.dropped++
		msg := fmt.Sprintf("saw its lock lost and dropped the sale (%s)", strings.ReplaceAll(ev.detail, "_", " "))
		if sh.phase == thawed && p == sh.frozenP {
			sh.thawDone("sale dropped", msg)
		} else {
			sh.say("%s %s", p.name, msg)
		}
	case "freezing":
		if sh.phase == freezeCued && p == sh.frozenP {
			sh.signal(p, syscall.SIGSTOP)
			sh.faultAt, sh.phase = time.Now(), frozen
			sh.r.frozen = p.name
			sh.say("SIGSTOP %s mid-sale: frozen right after its last check that it holds the lock (token %d), with its write of stock %d → %d about to go out",
				p.name, ev.token, ev.stock, ev.stock-1)
		}
	case "out":
		sh.say("%s read stock 0: sold out, it stops", p.name)
	case "exit":
		p.exited = true
		sh.live--
		if ev.detail != "" && p != sh.killedP {
			return fmt.Errorf("%s exited: %s", p.name, ev.detail)
		}
	}
	return nil
}

// sold follows a reported sale through the fault plan; left is the stock
// after the sale reported before it.
func (sh *shop) sold(ev event, left int) {
	p, now := ev.p, ev.at
	switch {
	case sh.phase == killed && p == sh.killedP:
		sh.say("(%s's sale was applied before the SIGKILL landed)", p.name)
	case sh.phase == killed:
		sh.r.failover = now.Sub(sh.faultAt)
		sh.say("%s sold one (stock %d → %d): the lock moved on %v after the kill", p.name, ev.stock, ev.after, sh.r.failover.Round(10*time.Millisecond))
		sh.phase = beforeFreeze
	case sh.phase == frozen && p == sh.frozenP:
		sh.say("(%s's sale was applied before the SIGSTOP landed)", p.name)
	case sh.phase == frozen:
		sh.during++
		if sh.during == 1 {
			sh.r.lockMoved = now.Sub(sh.faultAt)
			sh.say("%s sold one (stock %d → %d): the lock moved on %v into the freeze", p.name, ev.stock, ev.after, sh.r.lockMoved.Round(10*time.Millisecond))
		}
		sh.checkThaw(now)
	case sh.phase == thawed && p == sh.frozenP && ev.stock != left:
		sh.thawDone("STALE WRITE APPLIED", fmt.Sprintf("wrote from the stock it read before the freeze: the write was APPLIED, stock %d → %d (token %d) although %d were left",
			ev.stock, ev.after, ev.token, left))
	case sh.phase == thawed && p == sh.frozenP:
		sh.thawDone("sold (not stale)", fmt.Sprintf("sold one (stock %d → %d, token %d): the stock it read was still current", ev.stock, ev.after, ev.token))
	}
}

// checkThaw thaws the frozen seller once the others sold freezeSales
// during the freeze, every other seller is done, or maxFreeze passed.
func (sh *shop) checkThaw(now time.Time) {
	if sh.phase != frozen {
		return
	}
	others := 0
	for _, p := range sh.procs {
		if p != sh.frozenP && !p.exited {
			others++
		}
	}
	var why string
	switch {
	case sh.during >= sh.s.freezeSales:
		why = fmt.Sprintf("the others sold %d meanwhile", sh.during)
	case others == 0:
		why = "every other seller is done"
	case now.Sub(sh.faultAt) >= sh.s.maxFreeze:
		why = fmt.Sprintf("the freeze reached its limit of %v", sh.s.maxFreeze)
	default:
		return
	}
	sh.signal(sh.frozenP, syscall.SIGCONT)
	sh.r.froze = now.Sub(sh.faultAt)
	sh.phase = thawed
	sh.say("SIGCONT %s after %v (%s)", sh.frozenP.name, sh.r.froze.Round(10*time.Millisecond), why)
}

// thawDone records what the thawed seller did: short for the table, what
// for the story.
func (sh *shop) thawDone(short, what string) {
	sh.r.thaw = short
	sh.say("%s, thawed, %s", sh.frozenP.name, what)
	sh.phase = faultsDone
}

// signal sends sig to p's process (not its group: the seller has no
// children).
func (sh *shop) signal(p *proc, sig syscall.Signal) {
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		sh.say("signal %v to %s: %v", sig, p.name, err)
	}
}

// stopAll ends the sellers still running (after an error or ^C): a frozen
// one is thawed first, all are killed, and their events are drained until
// every reader is done.
func (sh *shop) stopAll() {
	for _, p := range sh.procs {
		if !p.exited {
			_ = p.cmd.Process.Signal(syscall.SIGCONT)
			_ = p.cmd.Process.Kill()
		}
	}
	for sh.live > 0 {
		if ev := <-sh.events; ev.kind == "exit" {
			ev.p.exited = true
			sh.live--
		}
	}
}

// stderrTails is the end of each seller's stderr, for an error message.
func (sh *shop) stderrTails() string {
	var b strings.Builder
	for _, p := range sh.procs {
		if t := strings.TrimSpace(p.stderr.String()); t != "" {
			fmt.Fprintf(&b, "\n--- %s stderr:\n%s", p.name, t)
		}
	}
	return b.String()
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	return len(b), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
