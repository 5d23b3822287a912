package leader

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/hashicorp/go-hclog"
)

// Advertise registers a service in Consul's catalog that tells other
// services who leads (Config.Advertise; README "The leader in the catalog
// and DNS"): tagged LeaderTag on the leader and StandbyTag on the other
// running candidates, so that leader.<Service>.service.consul answers
// with the leader's address only. The service's health is an alias of the
// elector's own check, so a dead or hung replica drops out of DNS within
// CheckTTL. DNS answers can be stale: writers must still use the fencing
// token.
type Advertise struct {
	// Service is the service name other services query. Required.
	Service string
	// ID is the registration's ID. Default "<Service>-<Identity>".
	ID string
	// Address and Port are where this replica serves; an empty Address
	// means the agent's node address.
	Address string
	Port    int
	// LeaderTag and StandbyTag are the role tags. Defaults "leader" and
	// "standby".
	LeaderTag, StandbyTag string
	// Tags and Meta are added to the registration as they are.
	Tags []string
	Meta map[string]string
}

// Advertising defaults.
const (
	// DefaultLeaderTag and DefaultStandbyTag are the role tags.
	DefaultLeaderTag  = "leader"
	DefaultStandbyTag = "standby"
	// advertiseReconcile is how often the registration is written again
	// although nothing changed, so that an agent restarted without its
	// state gets it back (a local agent call, no raft write when unchanged).
	advertiseReconcile = 30 * time.Second
)

func (a Advertise) withDefaults(identity string) Advertise {
	if a.ID == "" {
		a.ID = a.Service + "-" + identity
	}
	if a.LeaderTag == "" {
		a.LeaderTag = DefaultLeaderTag
	}
	if a.StandbyTag == "" {
		a.StandbyTag = DefaultStandbyTag
	}
	return a
}

func (a Advertise) validate() error {
	switch {
	case a.Service == "":
		return bad("Advertise.Service is required")
	case a.LeaderTag == a.StandbyTag:
		return bad("Advertise.LeaderTag and StandbyTag must differ (both %q)", a.LeaderTag)
	case a.Port < 0 || a.Port > 65535:
		return bad("Advertise.Port (%d) must be 0 to 65535", a.Port)
	case slices.Contains(a.Tags, a.LeaderTag) || slices.Contains(a.Tags, a.StandbyTag):
		return bad("Advertise.Tags must not contain the role tags")
	}
	return nil
}

// advertiser keeps the registration's role tag in step with the
// elector's role. Its goroutine is started and stopped by run.
type advertiser struct {
	client  *api.Client
	cfg     Advertise
	aliasOf string // the elector's service, whose check the registration mirrors
	timeout time.Duration
	clock   clock
	log     hclog.Logger

	mu      sync.Mutex
	leading bool
	written bool // the current role is registered
	wake    chan struct{}
}

func (e *Elector) newAdvertiser() *advertiser {
	if e.cfg.Advertise == nil {
		return nil
	}
	return &advertiser{client: e.client, cfg: e.cfg.Advertise.withDefaults(e.cfg.Identity), aliasOf: e.serviceID,
		timeout: e.cfg.RequestTimeout, clock: e.clock, log: e.log, wake: make(chan struct{}, 1)}
}

// start runs the advertiser until stop: it registers the service as a
// standby, follows role changes and re-registers every
// advertiseReconcile; stop deregisters the service and waits.
func (a *advertiser) start() (stop func()) {
	if a == nil {
		return func() {}
	}
	a.mu.Lock()
	a.leading, a.written = false, false
	a.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.run(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

func (a *advertiser) run(ctx context.Context) {
	defer a.deregister()
	for {
		a.mu.Lock()
		leading, written := a.leading, a.written
		a.mu.Unlock()
		wait := advertiseReconcile
		if !written && a.register(ctx, leading) != nil {
			wait = time.Second // the agent is unreachable: soon again
		}
		fired, t := after(a.clock, wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-a.wake:
		case <-fired:
			a.mu.Lock()
			a.written = false
			a.mu.Unlock()
		}
		t.Stop()
	}
}

// set records the role. A demotion is written at once (within the
// request timeout), before the caller goes on; a promotion is left to the
// advertiser's goroutine, so that a slow agent does not hold up the term.
func (a *advertiser) set(ctx context.Context, leading bool) {
	if a == nil {
		return
	}
	a.mu.Lock()
	changed := a.leading != leading
	a.leading = leading
	if changed {
		a.written = false
	}
	a.mu.Unlock()
	if !changed {
		return
	}
	if !leading && a.register(ctx, false) == nil {
		return
	}
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// nudge writes the registration again soon (the agent may have lost it).
func (a *advertiser) nudge() {
	if a == nil {
		return
	}
	a.mu.Lock()
	a.written = false
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// register writes the registration for the role.
func (a *advertiser) register(ctx context.Context, leading bool) error {
	tag := a.cfg.StandbyTag
	if leading {
		tag = a.cfg.LeaderTag
	}
	reg := &api.AgentServiceRegistration{ID: a.cfg.ID, Name: a.cfg.Service, Address: a.cfg.Address, Port: a.cfg.Port,
		Tags: append(slices.Clone(a.cfg.Tags), tag), Meta: a.cfg.Meta,
		Checks: api.AgentServiceChecks{{Name: "consulelect: alive and campaigning", AliasService: a.aliasOf}}}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.timeout)
	defer cancel()
	err := a.client.Agent().ServiceRegisterOpts(reg, api.ServiceRegisterOpts{}.WithContext(rctx))
	if err != nil {
		a.log.Warn("advertising the role in the catalog", "service", a.cfg.Service, "tag", tag, "error", err)
		return err
	}
	a.mu.Lock()
	if a.leading == leading {
		a.written = true
	}
	a.mu.Unlock()
	a.log.Debug("advertised the role in the catalog", "service", a.cfg.Service, "tag", tag)
	return nil
}

func (a *advertiser) deregister() {
	ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
	defer cancel()
	if err := a.client.Agent().ServiceDeregisterOpts(a.cfg.ID, (&api.QueryOptions{}).WithContext(ctx)); err != nil {
		a.log.Warn("removing the advertised service", "id", a.cfg.ID, "error", err)
	}
}

// endGracefully ends term t for reason after its demotion is advertised,
// so that the leader tag is gone before the term's work is cancelled.
func (e *Elector) endGracefully(t *Term, reason error) bool {
	if t.Ended().IsZero() {
		e.adv.set(t.Context(), false)
	}
	return t.end(reason)
}
