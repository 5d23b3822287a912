package leader

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/hashicorp/go-hclog"
)

// maxBatch is how many keys one confirming transaction reads (Consul
// allows 128 operations per transaction).
const maxBatch = 64

// GroupConfig configures a Group. Zero values take the Elector defaults.
type GroupConfig struct {
	// ServiceName, CheckTTL, DeregisterCriticalAfter, ConfirmInterval,
	// RequestTimeout, PermanentErrorRetry and Datacenter are as in Config;
	// every elector of the group uses the group's values.
	ServiceName             string
	CheckTTL                time.Duration
	DeregisterCriticalAfter time.Duration
	ConfirmInterval         time.Duration
	RequestTimeout          time.Duration
	PermanentErrorRetry     time.Duration
	Datacenter              string
	// Logger receives the group's logs (default: none).
	Logger hclog.Logger
}

// A Group lets many electors in one process (hundreds or thousands, each
// on its own key) share one TTL check and one confirmation loop: every
// ConfirmInterval, one consistent read transaction per 64 held keys
// confirms all of their terms at once, instead of one blocking query per
// term. The safety argument is unchanged (docs/safety.md); the price is
// that a leader in a group learns of an operator's delete or release of
// its key within ConfirmInterval instead of within one round trip.
//
// Start the group before its electors and stop it after them.
type Group struct {
	client *api.Client
	cfg    Config // only the shared fields are used
	log    hclog.Logger
	clock  clock
	hb     *heartbeat

	mu      sync.Mutex
	members map[*Term]member
	cancel  context.CancelFunc
	done    chan struct{}
}

type member struct {
	e       *Elector
	session string
}

// NewGroup returns a group; electors join it with WithGroup.
func NewGroup(client *api.Client, gc GroupConfig) (*Group, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: client must not be nil", ErrInvalidConfig)
	}
	cfg := Config{Key: "group", ServiceName: gc.ServiceName, CheckTTL: gc.CheckTTL,
		DeregisterCriticalAfter: gc.DeregisterCriticalAfter, ConfirmInterval: gc.ConfirmInterval,
		RequestTimeout: gc.RequestTimeout, PermanentErrorRetry: gc.PermanentErrorRetry,
		Datacenter: gc.Datacenter}.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	g := &Group{client: client, cfg: cfg, log: gc.Logger, clock: realClock{}, members: map[*Term]member{}}
	if g.log == nil {
		g.log = hclog.NewNullLogger()
	}
	var id [6]byte
	_, _ = rand.Read(id[:])
	serviceID := cfg.ServiceName + "-group-" + hex.EncodeToString(id[:])
	g.hb = newHeartbeat(client, cfg, serviceID, map[string]string{"consulelect_group": "true"},
		g.clock, g.log, func(err error) { g.log.Warn("group heartbeat", "error", err) })
	return g, nil
}

// WithGroup makes the elector share g's check and confirmation loop. Its
// CheckTTL, ConfirmInterval, ServiceName and DeregisterCriticalAfter are
// the group's; SessionTTL must be 0.
func WithGroup(g *Group) Option { return func(e *Elector) { e.group = g } }

// Start starts the group's heartbeat and confirmation loop.
func (g *Group) Start() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.done != nil {
		return ErrAlreadyRunning
	}
	ctx, cancel := context.WithCancel(context.Background())
	g.cancel, g.done = cancel, make(chan struct{})
	g.hb.start(ctx)
	go g.loop(ctx, g.done)
	return nil
}

// Stop stops the loop and the heartbeat (waiting for both) and removes
// the check within ctx. Stop the group's electors first: terms still
// active are no longer confirmed and end at their deadlines.
func (g *Group) Stop(ctx context.Context) error {
	g.mu.Lock()
	cancel, done := g.cancel, g.done
	g.cancel, g.done = nil, nil
	g.mu.Unlock()
	if done == nil {
		return ErrNotRunning
	}
	cancel()
	<-done
	g.hb.stop(ctx)
	return nil
}

func (g *Group) running() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.done != nil
}

func (g *Group) watch(e *Elector, t *Term, session string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.members[t] = member{e, session}
}

func (g *Group) unwatch(t *Term) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.members, t)
}

func (g *Group) loop(ctx context.Context, done chan struct{}) {
	defer close(done)
	for sleep(ctx, g.clock, g.cfg.ConfirmInterval) {
		g.mu.Lock()
		terms := make([]*Term, 0, len(g.members))
		members := make([]member, 0, len(g.members))
		for t, m := range g.members {
			terms, members = append(terms, t), append(members, m)
		}
		g.mu.Unlock()
		// Batches run concurrently: one slow batch must not hold the
		// others past their deadlines.
		var wg sync.WaitGroup
		for i := 0; i < len(terms); i += maxBatch {
			j := min(i+maxBatch, len(terms))
			wg.Add(1)
			go func(ts []*Term, ms []member) {
				defer wg.Done()
				g.confirm(ctx, ts, ms)
			}(terms[i:j], members[i:j])
		}
		wg.Wait()
	}
}

// confirm reads the keys of a batch of terms in one consistent read-only
// transaction and judges each term by its key.
func (g *Group) confirm(ctx context.Context, terms []*Term, members []member) {
	ops := make(api.TxnOps, len(terms))
	for i, m := range members {
		ops[i] = &api.TxnOp{KV: &api.KVTxnOp{Verb: api.KVGetOrEmpty, Key: m.e.cfg.Key}}
	}
	rctx, cancel := context.WithTimeout(ctx, g.cfg.RequestTimeout)
	defer cancel()
	sent := g.clock.Now()
	q := &api.QueryOptions{Datacenter: g.cfg.Datacenter, RequireConsistent: true}
	ok, resp, _, err := g.client.Txn().Txn(ops, q.WithContext(rctx))
	if err == nil && (!ok || len(resp.Results) != len(ops)) {
		err = fmt.Errorf("confirming transaction failed: %v", resp.Errors)
	}
	if err != nil {
		if ctx.Err() == nil {
			g.log.Warn("confirming a batch of terms", "error", err, "terms", len(terms))
			for _, m := range members {
				m.e.noteError(fmt.Errorf("confirm leadership: %w", err))
			}
		}
		return
	}
	for i, t := range terms {
		members[i].e.judge(t.Context(), t, members[i].session, resp.Results[i].KV, sent)
	}
}
