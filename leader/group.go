package leader

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/hashicorp/go-hclog"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/internal/core/hold"
)

// maxBatch is how many keys one confirming transaction reads (Consul
// allows 128 operations per transaction).
const maxBatch = 64

// GroupConfig configures a Group. Zero values take the Elector defaults.
type GroupConfig struct {
	// ServiceName, CheckTTL, SessionTTL, DeregisterCriticalAfter,
	// ConfirmInterval, RequestTimeout, PermanentErrorRetry and Datacenter
	// are as in Config (the group renews every session of its electors);
	// every elector of the group uses the group's values (an elector's
	// Config may leave them zero or repeat them, but not differ).
	ServiceName             string
	CheckTTL                time.Duration
	SessionTTL              time.Duration
	DeregisterCriticalAfter time.Duration
	ConfirmInterval         time.Duration
	RequestTimeout          time.Duration
	PermanentErrorRetry     time.Duration
	Datacenter              string
	// Logger receives the group's logs (default: none).
	Logger hclog.Logger

	// Balance spreads the leadership of the group's keys evenly over the
	// live replicas (README "Choosing the leader"): with K keys and M live
	// replicas, each leads at most ⌈K/M⌉. A replica above that hands keys,
	// one at a time, to the least-loaded replica below it that has been
	// live for StabilityWindow; a freed key goes to the replicas below
	// their share first, spread by a hash of the key. Every replica must
	// run the same keys and Balance. Name is then required.
	Balance bool
	// Name identifies the group's replicas in the catalog (the processes
	// that run the same keys); required with Balance.
	Name string
	// Identity names this replica in holders' values and logs; default
	// "<hostname>-<pid>".
	Identity string
	// StabilityWindow is how long a replica must have been live before
	// others hand keys to it to balance. Default DefaultStabilityWindow.
	StabilityWindow time.Duration
}

// A Group lets many electors in one process (hundreds or thousands, each
// on its own key) share one TTL check and one confirmation loop per 64
// held keys: every ConfirmInterval, one consistent read transaction
// confirms all of a batch's terms at once, instead of one read per term.
// Batches confirm independently: a slow or hung batch does not delay the
// others. The safety argument is unchanged (docs/safety.md); the price is
// that a leader in a group learns of an operator's delete or release of
// its key within ConfirmInterval instead of within one round trip.
//
// Errors of the shared check (an ACL without service:write, say) are
// reported in the Status and metrics of every elector of the group.
//
// Start the group before its electors and stop it after them.
type Group struct {
	client *api.Client
	cfg    Config // only the shared fields are used
	log    hclog.Logger
	clock  clock
	epoch  time.Time // the batches' common phase (see hold.Confirmer.Align)
	hb     *hold.Heartbeat

	mu       sync.Mutex
	electors map[*Elector]struct{} // running members: where errors go
	batches  []*batch
	byTerm   map[*Term]*batch
	ctx      context.Context // of the running group; nil when stopped
	cancel   context.CancelFunc
	stopping bool           // Stop is in progress: Start waits for it
	loops    sync.WaitGroup // the batches' loops
	gc       GroupConfig    // with defaults
	checkErr error          // the shared check's latest error (see lastCheckErr)
	bal      *balancer      // while running with Balance
}

// batch is up to maxBatch terms confirmed by one transaction.
type batch struct {
	members map[*Term]member // guarded by Group.mu
}

type member struct {
	e       *Elector
	session string
}

// NewGroup returns a group; electors join it with WithGroup. A config
// that breaks a rule is refused with an error that wraps consulelect.ErrInvalidConfig
// and names the field.
func NewGroup(client *api.Client, gc GroupConfig) (*Group, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: client must not be nil", consulelect.ErrInvalidConfig)
	}
	cfg := Config{ServiceName: gc.ServiceName, CheckTTL: gc.CheckTTL, SessionTTL: gc.SessionTTL,
		DeregisterCriticalAfter: gc.DeregisterCriticalAfter, ConfirmInterval: gc.ConfirmInterval,
		RequestTimeout: gc.RequestTimeout, PermanentErrorRetry: gc.PermanentErrorRetry,
		Datacenter: gc.Datacenter, Identity: gc.Identity, StabilityWindow: gc.StabilityWindow}.withDefaults()
	if err := cfg.validateShared(); err != nil {
		return nil, fmt.Errorf("%w (GroupConfig)", err)
	}
	gc.Identity, gc.StabilityWindow = cfg.Identity, cfg.StabilityWindow
	switch {
	case gc.StabilityWindow < 0:
		return nil, fmt.Errorf("%w: StabilityWindow (%v) must not be negative (GroupConfig)", consulelect.ErrInvalidConfig, gc.StabilityWindow)
	case gc.Balance && gc.Name == "":
		return nil, fmt.Errorf("%w: Name is required with Balance (GroupConfig)", consulelect.ErrInvalidConfig)
	case gc.Name == "true":
		return nil, fmt.Errorf("%w: Name \"true\" is what unnamed Groups register (GroupConfig)", consulelect.ErrInvalidConfig)
	case strings.ContainsAny(gc.Name, "\"\n"):
		return nil, fmt.Errorf("%w: Name %q must not contain quotes or newlines (GroupConfig)", consulelect.ErrInvalidConfig, gc.Name)
	}
	groupMeta := gc.Name
	if groupMeta == "" {
		groupMeta = "true"
	}
	g := &Group{client: client, cfg: cfg, gc: gc, log: gc.Logger, clock: realClock{},
		electors: map[*Elector]struct{}{}, byTerm: map[*Term]*batch{}}
	if g.log == nil {
		g.log = hclog.NewNullLogger()
	}
	g.epoch = g.clock.Now()
	g.hb = newHeartbeat(client, cfg, newServiceID(cfg.ServiceName+"-group"),
		map[string]string{"consulelect_group": groupMeta, "consulelect_identity": cfg.Identity},
		g.clock, g.log, g.noteAll)
	return g, nil
}

// WithGroup makes the elector share g's check and confirmation loop: its
// ServiceName, CheckTTL, SessionTTL, DeregisterCriticalAfter,
// ConfirmInterval, RequestTimeout, PermanentErrorRetry and Datacenter are
// the group's (New refuses a non-zero value that differs), its Identity
// defaults to the group's, and Priority, Version and PreferVersion must be
// unset (balance a Group with GroupConfig.Balance). A Group's
// leader follows no handoff requests (RequestHandOff); HandOff works when
// the Group balances.
func WithGroup(g *Group) Option { return func(e *Elector) { e.group = g } }

// shared returns cfg with the group's shared fields, refusing a non-zero
// field that differs from the group's.
func (g *Group) shared(cfg Config) (Config, error) {
	bad := func(name string, v, gv any) error {
		return fmt.Errorf("%w: %s (%v) differs from its Group's (%v); leave it zero", consulelect.ErrInvalidConfig, name, v, gv)
	}
	if cfg.Identity == "" {
		cfg.Identity = g.cfg.Identity // the replica's name, as in its line
	}
	if cfg.Advertise != nil {
		return cfg, fmt.Errorf("%w: Advertise must be unset in a Group", consulelect.ErrInvalidConfig)
	}
	if cfg.Priority != 0 || cfg.Version != "" || cfg.PreferVersion != AnyVersion {
		return cfg, fmt.Errorf("%w: Priority, Version and PreferVersion must be unset in a Group (its electors share one service; balance a Group with GroupConfig.Balance)", consulelect.ErrInvalidConfig)
	}
	for _, f := range []struct {
		name     string
		v        *time.Duration
		groupVal time.Duration
	}{
		{"CheckTTL", &cfg.CheckTTL, g.cfg.CheckTTL},
		{"SessionTTL", &cfg.SessionTTL, g.cfg.SessionTTL},
		{"DeregisterCriticalAfter", &cfg.DeregisterCriticalAfter, g.cfg.DeregisterCriticalAfter},
		{"ConfirmInterval", &cfg.ConfirmInterval, g.cfg.ConfirmInterval},
		{"RequestTimeout", &cfg.RequestTimeout, g.cfg.RequestTimeout},
		{"PermanentErrorRetry", &cfg.PermanentErrorRetry, g.cfg.PermanentErrorRetry},
	} {
		if *f.v != 0 && *f.v != f.groupVal {
			return cfg, bad(f.name, *f.v, f.groupVal)
		}
		*f.v = f.groupVal
	}
	for _, f := range []struct {
		name     string
		v        *string
		groupVal string
	}{
		{"ServiceName", &cfg.ServiceName, g.cfg.ServiceName},
		{"Datacenter", &cfg.Datacenter, g.cfg.Datacenter},
	} {
		if *f.v != "" && *f.v != f.groupVal {
			return cfg, bad(f.name, *f.v, f.groupVal)
		}
		*f.v = f.groupVal
	}
	return cfg, nil
}

// Start starts the group's heartbeat and confirmation loops. While a Stop
// is in progress it returns ErrAlreadyRunning.
func (g *Group) Start() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ctx != nil || g.stopping {
		return ErrAlreadyRunning
	}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	g.hb.Start(g.ctx)
	if g.gc.Balance {
		me := Candidate{Identity: g.cfg.Identity, ServiceID: g.hb.ServiceID}
		g.bal = &balancer{g: g, window: g.gc.StabilityWindow,
			line: startLine(g.ctx, g.client, g.cfg, fmt.Sprintf("Service.Meta.consulelect_group == %q", g.gc.Name), me, strategy{}, g.clock, true)}
		g.loops.Add(1)
		go func(ctx context.Context, b *balancer) {
			defer g.loops.Done()
			defer b.line.stop()
			b.run(ctx)
		}(g.ctx, g.bal)
	}
	return nil
}

// Stop stops the loops and the heartbeat (waiting for them) and removes
// the check within ctx. Stop the group's electors first: terms still
// active are no longer confirmed and end at their deadlines.
func (g *Group) Stop(ctx context.Context) error {
	g.mu.Lock()
	cancel := g.cancel
	if cancel == nil || g.stopping {
		g.mu.Unlock()
		return ErrNotRunning
	}
	g.ctx, g.cancel, g.batches, g.byTerm, g.stopping, g.bal = nil, nil, nil, map[*Term]*batch{}, true, nil
	g.mu.Unlock()
	cancel()
	g.loops.Wait()
	g.hb.Stop(ctx)
	g.mu.Lock()
	g.stopping = false
	g.mu.Unlock()
	return nil
}

func (g *Group) running() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.ctx != nil
}

// join and leave keep the set of running electors, to which the group's
// errors are reported. join refuses a second elector on a key: in one
// group, electors on one key would be one candidate, each taking the
// other's session for a stale one of its own.
func (g *Group) join(e *Elector) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	for o := range g.electors {
		if o != e && o.cfg.Key == e.cfg.Key {
			return fmt.Errorf("%w: another elector of the Group runs for %q", ErrAlreadyRunning, e.cfg.Key)
		}
	}
	g.electors[e] = struct{}{}
	return nil
}

func (g *Group) leave(e *Elector) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.electors, e)
}

// memberElectors returns the running electors.
func (g *Group) memberElectors() []*Elector {
	g.mu.Lock()
	defer g.mu.Unlock()
	es := make([]*Elector, 0, len(g.electors))
	for e := range g.electors {
		es = append(es, e)
	}
	return es
}

// balance returns the running balancer, nil without Balance.
func (g *Group) balance() *balancer {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.bal
}

// noteAll reports an error of the shared check to every running elector.
func (g *Group) noteAll(err error) {
	g.mu.Lock()
	g.checkErr = err
	g.mu.Unlock()
	for _, e := range g.memberElectors() {
		e.noteError(err)
	}
}

// lastCheckErr is the shared check's latest error while it is not
// healthy (nil once it is): what a joining elector must see, since a
// permanent error is retried only every PermanentErrorRetry.
func (g *Group) lastCheckErr() error {
	g.mu.Lock()
	err := g.checkErr
	g.mu.Unlock()
	if err == nil || g.hb.Healthy() {
		return nil
	}
	return err
}

// watch adds a term to a batch with room, starting a new batch's loop if
// all are full. In a stopped group the term is not confirmed (it ends at
// its deadline).
func (g *Group) watch(e *Elector, t *Term, session string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ctx == nil {
		return
	}
	var b *batch
	for _, c := range g.batches {
		if len(c.members) < maxBatch {
			b = c
			break
		}
	}
	if b == nil {
		b = &batch{members: map[*Term]member{}}
		g.batches = append(g.batches, b)
		g.loops.Add(1)
		go func(ctx context.Context) {
			defer g.loops.Done()
			g.runBatch(ctx, b)
		}(g.ctx)
	}
	b.members[t] = member{e, session}
	g.byTerm[t] = b
}

func (g *Group) unwatch(t *Term) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if b := g.byTerm[t]; b != nil {
		delete(b.members, t)
		delete(g.byTerm, t)
	}
}

// runBatch confirms a batch's terms until the group stops, on a schedule
// of its own (see hold.Confirmer).
func (g *Group) runBatch(ctx context.Context, b *batch) {
	w := g.cfg.ConfirmInterval
	c := &hold.Confirmer{Interval: w, Gap: w / 10, Clock: g.clock, Align: g.epoch,
		Timeout: func() time.Duration { return g.batchTimeout(b) },
		Read:    func(rctx context.Context, sent time.Time) error { return g.confirm(rctx, b, sent) },
		Failed: func(err error, first bool) {
			if !first { // once per episode, not per read and member
				return
			}
			members := g.members(b)
			g.log.Warn("confirming a batch of terms", "error", err, "terms", len(members))
			for _, m := range members {
				m.e.noteError(fmt.Errorf("confirm leadership: %w", err))
			}
		},
		Recovered: func() {
			if n := len(g.members(b)); n > 0 {
				g.log.Info("batch of terms confirmed again", "terms", n)
			}
		}}
	c.Run(ctx)
}

// members returns b's members now.
func (g *Group) members(b *batch) []member {
	g.mu.Lock()
	defer g.mu.Unlock()
	ms := make([]member, 0, len(b.members))
	for _, m := range b.members {
		ms = append(ms, m)
	}
	return ms
}

// batchTimeout is the longest DemoteAfter among b's terms: past it, a
// read's answer can confirm none of them (RequestTimeout for an empty
// batch, whose read sends nothing).
func (g *Group) batchTimeout(b *batch) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	var d time.Duration
	for _, m := range b.members {
		d = max(d, m.e.cfg.DemoteAfter)
	}
	if d == 0 {
		d = g.cfg.RequestTimeout
	}
	return d
}

// confirm reads the keys of a batch's terms in one consistent read-only
// transaction, sent at sent, and judges each term by its key.
func (g *Group) confirm(rctx context.Context, b *batch, sent time.Time) error {
	g.mu.Lock()
	terms := make([]*Term, 0, len(b.members))
	members := make([]member, 0, len(b.members))
	for t, m := range b.members {
		terms, members = append(terms, t), append(members, m)
	}
	g.mu.Unlock()
	if len(terms) == 0 {
		return nil
	}
	ops := make(api.TxnOps, len(terms))
	for i, m := range members {
		ops[i] = &api.TxnOp{KV: &api.KVTxnOp{Verb: api.KVGetOrEmpty, Key: m.e.cfg.Key}}
	}
	q := &api.QueryOptions{Datacenter: g.cfg.Datacenter, RequireConsistent: true}
	ok, resp, _, err := g.client.Txn().Txn(ops, q.WithContext(rctx))
	if err == nil && (!ok || len(resp.Results) != len(ops)) {
		err = fmt.Errorf("confirming transaction failed: %v", resp.Errors)
	}
	if err != nil {
		return err
	}
	for i, t := range terms {
		members[i].e.judge(t.Context(), t, members[i].session, resp.Results[i].KV, sent, true)
	}
	return nil
}
