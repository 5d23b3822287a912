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
//
// The heartbeat's goroutine alone decides whether the check is healthy
// (registered on the agent and passing): after any failed pass (the agent
// restarted without its state, or could not be reached, so that it may have
// restarted) it registers the check again, passing, before it lets a
// session be created; session creation that finds the check missing or
// critical only asks it to verify (suspect).
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
	note                   func(error) // where its errors go: the electors' Status and metrics

	mu        sync.Mutex
	healthyCh chan struct{} // closed while the check is known registered and passing
	suspectCh chan struct{} // a nudge to register again (buffered 1)
	session   atomic.Value  // string: the session to renew (SessionTTL)
	cancel    context.CancelFunc
	done      chan struct{}
}

// newHeartbeat returns a heartbeat for a check with cfg's timings; start
// runs it.
func newHeartbeat(client *api.Client, cfg Config, serviceID string, meta map[string]string, c clock, log hclog.Logger, note func(error)) *heartbeat {
	h := &heartbeat{client: client, serviceID: serviceID, checkID: serviceID + ":lease",
		serviceName: cfg.ServiceName, checkName: "consulelect lease", meta: meta,
		checkTTL: cfg.CheckTTL, deregister: cfg.DeregisterCriticalAfter, timeout: cfg.RequestTimeout,
		permanent: cfg.PermanentErrorRetry, sessionTTL: cfg.SessionTTL, clock: c, log: log, note: note,
		healthyCh: make(chan struct{}), suspectCh: make(chan struct{}, 1)}
	h.session.Store("")
	return h
}

// start runs the heartbeat until stop; a heartbeat can be started again
// after it stopped (a Group restarted).
func (h *heartbeat) start(ctx context.Context) {
	ctx, h.cancel = context.WithCancel(ctx)
	h.done = make(chan struct{})
	h.setHealthy(false)
	go h.loop(ctx, h.done)
}

func (h *heartbeat) loop(ctx context.Context, done chan struct{}) {
	defer close(done)
	var lastRenew time.Time
	for {
		wait := h.beat(ctx)
		if h.sessionTTL > 0 && h.clock.Now().Sub(lastRenew) >= h.sessionTTL/3 {
			if id, _ := h.session.Load().(string); id != "" {
				if err := h.renew(ctx, id); err == nil {
					lastRenew = h.clock.Now()
				} else if ctx.Err() == nil {
					h.note(fmt.Errorf("renew session: %w", err))
				}
			}
		}
		if !h.pause(ctx, wait) {
			return
		}
	}
}

// pause waits d, or less if asked to verify the check (suspect); it
// reports false when ctx ended.
func (h *heartbeat) pause(ctx context.Context, d time.Duration) bool {
	fired, t := after(h.clock, d)
	defer t.Stop()
	select {
	case <-h.suspectCh:
		h.setHealthy(false) // verify by registering again
		return true
	case <-fired:
		return true
	case <-ctx.Done():
		return false
	}
}

// beat registers the check (when not known healthy) or passes it, and
// returns how long to wait before the next beat.
func (h *heartbeat) beat(ctx context.Context) time.Duration {
	wait := h.checkTTL / 3
	if !h.isHealthy() {
		err := h.register(ctx)
		if err == nil {
			h.setHealthy(true)
			return wait
		}
		if ctx.Err() != nil {
			return wait
		}
		err = fmt.Errorf("register service check: %w", err)
		h.note(err)
		if IsPermanent(err) {
			h.log.Error("permanent consul error; retrying slowly", "error", err, "retry_in", h.permanent)
			return h.permanent
		}
		h.log.Warn("consul error; retrying", "error", err, "service_id", h.serviceID)
		return wait
	}
	if err := h.pass(ctx); err != nil && ctx.Err() == nil {
		// The agent lost the check (restarted without its state) or could
		// not be reached (and may have restarted): register it again at once,
		// and create no session until that succeeded.
		h.setHealthy(false)
		err = fmt.Errorf("pass the session's check: %w", err)
		h.note(err)
		h.log.Warn("passing the session's check; registering it again", "error", err, "check_id", h.checkID)
		return 0
	}
	return wait
}

func (h *heartbeat) isHealthy() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return isClosed(h.healthyCh)
}

// setHealthy is called by the heartbeat's goroutine (and by start) only.
func (h *heartbeat) setHealthy(ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch was := isClosed(h.healthyCh); {
	case ok && !was:
		close(h.healthyCh)
	case !ok && was:
		h.healthyCh = make(chan struct{})
	}
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// waitHealthy waits until the check is registered and passing, or ctx ends.
func (h *heartbeat) waitHealthy(ctx context.Context) error {
	h.mu.Lock()
	ch := h.healthyCh
	h.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// suspect asks the heartbeat to verify its check by registering it again
// (session creation found it missing or critical).
func (h *heartbeat) suspect() {
	select {
	case h.suspectCh <- struct{}{}:
	default:
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
	// Bounded by the beat: a pass hung on a dead connection must not hold
	// up the next beat (and the registration after a failure).
	rctx, cancel := context.WithTimeout(ctx, min(h.timeout, h.checkTTL/3))
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
		if err := hb.waitHealthy(ctx); err != nil {
			return "", err
		}
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
			// Not yet synced to the catalog, or the agent lost it: the
			// heartbeat verifies by registering it again.
			hb.suspect()
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
