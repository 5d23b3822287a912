package leader

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/hashicorp/go-hclog"
)

// serfCheckID is the agent's node health check, linked to every session
// (Consul's default): it invalidates the session when the node fails.
const serfCheckID = "serfHealth"

// heartbeat keeps a service check passing on the local agent. The check
// is linked to every session that uses it, so a dead or wedged process
// loses its sessions CheckTTL after its last pass. It also renews one
// session when a SessionTTL is configured. Its goroutine is started and
// stopped (and waited for) by its owner: an Elector's Run, or a Group.
type heartbeat struct {
	client                 *api.Client
	serviceID, checkID     string
	serviceName, checkName string
	meta                   map[string]string
	checkTTL, deregister   time.Duration
	timeout, permanent     time.Duration
	sessionTTL             time.Duration
	clock                  clock
	log                    hclog.Logger
	note                   func(error)

	registered atomic.Bool
	ready      chan struct{} // closed after the first successful registration
	readyOnce  sync.Once
	session    atomic.Value // string: the session to renew (SessionTTL)
	cancel     context.CancelFunc
	done       chan struct{}
}

// newHeartbeat returns a heartbeat for a check with cfg's timings; start
// runs it.
func newHeartbeat(client *api.Client, cfg Config, serviceID string, meta map[string]string, c clock, log hclog.Logger, note func(error)) *heartbeat {
	h := &heartbeat{client: client, serviceID: serviceID, checkID: serviceID + ":lease",
		serviceName: cfg.ServiceName, checkName: "consulelect lease", meta: meta,
		checkTTL: cfg.CheckTTL, deregister: cfg.DeregisterCriticalAfter, timeout: cfg.RequestTimeout,
		permanent: cfg.PermanentErrorRetry, sessionTTL: cfg.SessionTTL, clock: c, log: log, note: note,
		ready: make(chan struct{})}
	h.session.Store("")
	return h
}

// start runs the heartbeat until stop; a heartbeat can be started again
// after it stopped (a Group restarted).
func (h *heartbeat) start(ctx context.Context) {
	ctx, h.cancel = context.WithCancel(ctx)
	h.done = make(chan struct{})
	go h.loop(ctx, h.done)
}

func (h *heartbeat) loop(ctx context.Context, done chan struct{}) {
	defer close(done)
	var lastRenew time.Time
	for {
		wait := h.checkTTL / 3
		if !h.registered.Load() {
			if err := h.register(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				err = fmt.Errorf("register service check: %w", err)
				h.note(err)
				if IsPermanent(err) {
					wait = h.permanent
					h.log.Error("permanent consul error; retrying slowly", "error", err, "retry_in", wait)
				} else {
					h.log.Warn("consul error; retrying", "error", err, "service_id", h.serviceID)
				}
			} else {
				h.registered.Store(true)
				h.readyOnce.Do(func() { close(h.ready) })
			}
		} else if err := h.pass(ctx); err != nil && ctx.Err() == nil {
			h.log.Warn("passing the session's check", "error", err, "check_id", h.checkID)
			if strings.Contains(err.Error(), "does not have associated TTL") || strings.Contains(err.Error(), "Unknown check") {
				h.registered.Store(false) // the agent lost it (restart without state): register again
			}
		}
		if h.sessionTTL > 0 && h.clock.Now().Sub(lastRenew) >= h.sessionTTL/3 {
			if id, _ := h.session.Load().(string); id != "" && h.renew(ctx, id) == nil {
				lastRenew = h.clock.Now()
			}
		}
		if !sleep(ctx, h.clock, wait) {
			return
		}
	}
}

// stop ends the heartbeat, waits for it, and deregisters the service
// (which removes the check) within ctx.
func (h *heartbeat) stop(ctx context.Context) {
	h.cancel()
	<-h.done
	rctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	if err := h.client.Agent().ServiceDeregisterOpts(h.serviceID, (&api.QueryOptions{}).WithContext(rctx)); err != nil {
		h.log.Warn("deregistering the session's service", "error", err, "service_id", h.serviceID)
	}
}

func (h *heartbeat) register(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	reg := &api.AgentServiceRegistration{
		ID: h.serviceID, Name: h.serviceName, Meta: h.meta,
		Check: &api.AgentServiceCheck{
			CheckID: h.checkID, Name: h.checkName, TTL: h.checkTTL.String(), Status: api.HealthPassing,
			DeregisterCriticalServiceAfter: h.deregister.String(),
		},
	}
	return h.client.Agent().ServiceRegisterOpts(reg, api.ServiceRegisterOpts{ReplaceExistingChecks: true}.WithContext(rctx))
}

// pass passes the TTL check. The output never changes, so the agent does
// not forward anything to the servers: the heartbeat is agent-local.
func (h *heartbeat) pass(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	return h.client.Agent().UpdateTTLOpts(h.checkID, "", api.HealthPassing, (&api.QueryOptions{}).WithContext(rctx))
}

func (h *heartbeat) renew(ctx context.Context, id string) error {
	rctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	_, _, err := h.client.Session().Renew(id, (&api.WriteOptions{}).WithContext(rctx))
	return err
}

// createSession creates a session linked to the node's serfHealth and to
// this process's service check, retrying until it succeeds or ctx ends.
func (e *Elector) createSession(ctx context.Context, hb *heartbeat, r *retrier) (string, error) {
	select {
	case <-hb.ready:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	se := &api.SessionEntry{
		Name:          "consulelect " + e.cfg.Key + " " + e.cfg.Identity,
		LockDelay:     e.cfg.LockDelay,
		Behavior:      api.SessionBehaviorRelease,
		NodeChecks:    []string{serfCheckID},
		ServiceChecks: []api.ServiceCheck{{ID: hb.checkID}},
	}
	if e.cfg.SessionTTL > 0 {
		se.TTL = e.cfg.SessionTTL.String()
	}
	for {
		rctx, cancel := context.WithTimeout(ctx, e.cfg.RequestTimeout)
		id, _, err := e.client.Session().Create(se, e.writeOpts(rctx))
		cancel()
		if err == nil {
			r.ok()
			hb.session.Store(id)
			e.log.Debug("session created", "session", id)
			return id, nil
		}
		if strings.Contains(err.Error(), "Missing check") || strings.Contains(err.Error(), "critical state") {
			// Not yet synced to the catalog, or the agent lost it.
			hb.registered.Store(!strings.Contains(err.Error(), "critical state"))
		}
		if !r.wait(ctx, "create session", err) {
			return "", ctx.Err()
		}
	}
}

// destroySession destroys a session (its keys should be released first:
// destroying a holding session imposes lock-delay on the successor).
func (e *Elector) destroySession(ctx context.Context, id string) error {
	rctx, cancel := context.WithTimeout(ctx, e.cfg.RequestTimeout)
	defer cancel()
	if _, err := e.client.Session().Destroy(id, e.writeOpts(rctx)); err != nil {
		return fmt.Errorf("destroy session %s: %w", id, err)
	}
	return nil
}

// release releases the key if session still holds it.
func (e *Elector) release(ctx context.Context, session string) error {
	rctx, cancel := context.WithTimeout(ctx, e.cfg.RequestTimeout)
	defer cancel()
	// The value stays ours (as api.Lock does): followers that wake on the
	// release see who held it and leave that one out of the line.
	pair := &api.KVPair{Key: e.cfg.Key, Session: session, Flags: api.LockFlagValue, Value: e.value}
	ok, _, err := e.client.KV().Release(pair, e.writeOpts(rctx))
	if err != nil {
		return fmt.Errorf("release %q: %w", e.cfg.Key, err)
	}
	if !ok {
		e.log.Debug("key was no longer held at release", "session", session)
	}
	return nil
}

// sessionExists tells whether the session still exists (for the reason of
// a loss); errors count as "exists" so that the reason is the milder one.
func (e *Elector) sessionExists(ctx context.Context, id string) bool {
	rctx, cancel := context.WithTimeout(ctx, min(e.cfg.RequestTimeout, e.cfg.ConfirmInterval))
	defer cancel()
	s, _, err := e.client.Session().Info(id, e.queryOpts(rctx))
	return err != nil || s != nil
}

func (e *Elector) writeOpts(ctx context.Context) *api.WriteOptions {
	return (&api.WriteOptions{Datacenter: e.cfg.Datacenter}).WithContext(ctx)
}

func (e *Elector) queryOpts(ctx context.Context) *api.QueryOptions {
	return (&api.QueryOptions{Datacenter: e.cfg.Datacenter}).WithContext(ctx)
}
