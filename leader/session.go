package leader

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/consul/api"
)

// serfCheckID is the agent's node health check, linked to every session
// (Consul's default): it invalidates the session when the node fails.
const serfCheckID = "serfHealth"

// heartbeat keeps this process's service check passing on the local agent.
// The check is linked to every session of the elector, so a dead or wedged
// process loses its session CheckTTL after its last pass. It also renews the
// session when a SessionTTL is configured. The goroutine is started by Run
// and stopped (and waited for) by Run.
type heartbeat struct {
	e          *Elector
	registered atomic.Bool
	ready      chan struct{} // closed after the first successful registration
	readyOnce  sync.Once
	session    atomic.Value // string: current session to renew
	cancel     context.CancelFunc
	done       chan struct{}
}

func (e *Elector) startHeartbeat(ctx context.Context) *heartbeat {
	ctx, cancel := context.WithCancel(ctx)
	h := &heartbeat{e: e, ready: make(chan struct{}), cancel: cancel, done: make(chan struct{})}
	h.session.Store("")
	go h.loop(ctx)
	return h
}

func (h *heartbeat) loop(ctx context.Context) {
	defer close(h.done)
	e := h.e
	pass := e.cfg.CheckTTL / 3
	var lastRenew time.Time
	for {
		wait := pass
		if !h.registered.Load() {
			if err := e.registerService(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				err = fmt.Errorf("register service check: %w", err)
				e.noteError(err)
				if IsPermanent(err) {
					wait = e.cfg.PermanentErrorRetry
					e.log.Error("permanent consul error; retrying slowly", "error", err, "retry_in", wait)
				} else {
					e.log.Warn("consul error; retrying", "error", err, "service_id", e.serviceID)
				}
			} else {
				h.registered.Store(true)
				h.readyOnce.Do(func() { close(h.ready) })
			}
		} else if err := e.passCheck(ctx); err != nil && ctx.Err() == nil {
			e.log.Warn("passing the session's check", "error", err, "check_id", e.checkID)
			if strings.Contains(err.Error(), "does not have associated TTL") || strings.Contains(err.Error(), "Unknown check") {
				h.registered.Store(false) // the agent lost it (restart without state): register again
			}
		}
		if ttl := e.cfg.SessionTTL; ttl > 0 && e.clock.Now().Sub(lastRenew) >= ttl/3 {
			if id, _ := h.session.Load().(string); id != "" {
				if err := e.renewSession(ctx, id); err == nil {
					lastRenew = e.clock.Now()
				}
			}
		}
		if !sleep(ctx, e.clock, wait) {
			return
		}
	}
}

// stop ends the heartbeat, waits for it, and deregisters the service
// (which removes the check) within ctx.
func (h *heartbeat) stop(ctx context.Context) {
	h.cancel()
	<-h.done
	rctx, cancel := context.WithTimeout(ctx, h.e.cfg.RequestTimeout)
	defer cancel()
	if err := h.e.client.Agent().ServiceDeregisterOpts(h.e.serviceID, (&api.QueryOptions{}).WithContext(rctx)); err != nil {
		h.e.log.Warn("deregistering the session's service", "error", err, "service_id", h.e.serviceID)
	}
}

func (e *Elector) registerService(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(ctx, e.cfg.RequestTimeout)
	defer cancel()
	reg := &api.AgentServiceRegistration{
		ID:   e.serviceID,
		Name: e.cfg.ServiceName,
		Meta: map[string]string{"consulelect_key": e.cfg.Key, "consulelect_identity": e.cfg.Identity},
		Check: &api.AgentServiceCheck{
			CheckID:                        e.checkID,
			Name:                           "consulelect lease for " + e.cfg.Key,
			TTL:                            e.cfg.CheckTTL.String(),
			Status:                         api.HealthPassing,
			DeregisterCriticalServiceAfter: e.cfg.DeregisterCriticalAfter.String(),
		},
	}
	return e.client.Agent().ServiceRegisterOpts(reg, api.ServiceRegisterOpts{ReplaceExistingChecks: true}.WithContext(rctx))
}

// passCheck passes the TTL check. The output never changes, so the agent
// does not forward anything to the servers: the heartbeat is agent-local.
func (e *Elector) passCheck(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(ctx, e.cfg.RequestTimeout)
	defer cancel()
	return e.client.Agent().UpdateTTLOpts(e.checkID, "", api.HealthPassing, (&api.QueryOptions{}).WithContext(rctx))
}

func (e *Elector) renewSession(ctx context.Context, id string) error {
	rctx, cancel := context.WithTimeout(ctx, e.cfg.RequestTimeout)
	defer cancel()
	_, _, err := e.client.Session().Renew(id, e.writeOpts(rctx))
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
		ServiceChecks: []api.ServiceCheck{{ID: e.checkID}},
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
func (e *Elector) destroySession(ctx context.Context, id string) {
	rctx, cancel := context.WithTimeout(ctx, e.cfg.RequestTimeout)
	defer cancel()
	if _, err := e.client.Session().Destroy(id, e.writeOpts(rctx)); err != nil {
		e.log.Warn("destroying session", "session", id, "error", err)
	}
}

// release releases the key if session still holds it.
func (e *Elector) release(ctx context.Context, session string) error {
	rctx, cancel := context.WithTimeout(ctx, e.cfg.RequestTimeout)
	defer cancel()
	ok, _, err := e.client.KV().Release(&api.KVPair{Key: e.cfg.Key, Session: session, Flags: api.LockFlagValue}, e.writeOpts(rctx))
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
	rctx, cancel := context.WithTimeout(ctx, e.cfg.RequestTimeout)
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
