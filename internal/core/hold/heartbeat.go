package hold

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/hashicorp/go-hclog"
)

// SerfCheckID is the agent's node health check, linked to every session
// (Consul's default): it invalidates the session when the node fails.
const SerfCheckID = "serfHealth"

// Heartbeat keeps a service check passing on the local agent. The check
// is linked to every session that uses it, so a dead or wedged process
// loses its sessions CheckTTL after its last pass. With a SessionTTL it
// also renews the sessions that use it (renew.go). Its goroutines are started and
// stopped (and waited for) by its owner: an Elector's Run, a Group, or a
// lock Session.
//
// The heartbeat's goroutine alone decides whether the check is healthy
// (registered on the agent and passing): after any failed pass (the agent
// restarted without its state, or could not be reached, so that it may have
// restarted) it registers the check again, passing, before it lets a
// session be created; session creation that finds the check missing or
// critical only asks it to verify (suspect).
type Heartbeat struct {
	HeartbeatConfig
	checkID string

	mu        sync.Mutex
	healthyCh chan struct{} // closed while the check is known registered and passing
	failErr   error         // why the latest registration failed; nil once one succeeded
	failCh    chan struct{} // closed at the next failed registration (then replaced)
	suspectCh chan struct{} // a nudge to register again (buffered 1)
	cancel    context.CancelFunc
	done      chan struct{} // closed when the beat and renew loops ended

	// Owned by the heartbeat's goroutine: the failed registrations in a
	// row and when the last of them was logged at Warn.
	failures int
	warned   time.Time

	sessMu   sync.Mutex
	sessions map[string]*renewal // to renew (SessionTTL)
	renewNow chan struct{}       // a session stopped waiting: renew it (buffered 1)
}

// HeartbeatConfig is what a Heartbeat needs; every field is required
// except Meta and SessionTTL.
type HeartbeatConfig struct {
	Client                  *api.Client
	ServiceID, ServiceName  string // the service registered; its check is ServiceID + ":lease"
	Meta                    map[string]string
	CheckTTL, Deregister    time.Duration
	Timeout, PermanentRetry time.Duration // RequestTimeout, PermanentErrorRetry
	SessionTTL              time.Duration // 0 or negative: the sessions have no TTL to renew
	Datacenter              string        // where the sessions are (renewals go there)
	Clock                   Clock
	Log                     hclog.Logger
	Note                    func(error)      // where its errors go: Status and metrics
	IsPermanent             func(error) bool // which errors retrying will not fix
	// Registered, if set, is called after each registration of the check
	// (at the start, and again after an agent lost it): what else the owner
	// registered on the agent may be gone too.
	Registered func()
}

// NewHeartbeat returns a heartbeat for a check with cfg's timings; Start
// runs it.
func NewHeartbeat(cfg HeartbeatConfig) *Heartbeat {
	h := &Heartbeat{HeartbeatConfig: cfg, checkID: cfg.ServiceID + ":lease",
		healthyCh: make(chan struct{}), failCh: make(chan struct{}), suspectCh: make(chan struct{}, 1),
		sessions: map[string]*renewal{}, renewNow: make(chan struct{}, 1)}
	return h
}

// CheckID is the ID of the TTL check, to link to sessions.
func (h *Heartbeat) CheckID() string { return h.checkID }

// Start runs the heartbeat until stop; a heartbeat can be started again
// after it stopped (a Group restarted).
func (h *Heartbeat) Start(ctx context.Context) {
	ctx, h.cancel = context.WithCancel(ctx)
	done := make(chan struct{})
	h.done = done
	h.setHealthy(false)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); h.loop(ctx) }()
	if h.SessionTTL > 0 {
		wg.Add(1)
		go func() { defer wg.Done(); h.renewLoop(ctx) }()
	}
	go func() { wg.Wait(); close(done) }()
}

func (h *Heartbeat) loop(ctx context.Context) {
	for {
		if !h.pause(ctx, h.beat(ctx)) {
			return
		}
	}
}

// pause waits d, or less if asked to verify the check (suspect); it
// reports false when ctx ended.
func (h *Heartbeat) pause(ctx context.Context, d time.Duration) bool {
	fired, t := After(h.Clock, d)
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
func (h *Heartbeat) beat(ctx context.Context) time.Duration {
	wait := h.CheckTTL / 3
	if !h.isHealthy() {
		err := h.register(ctx)
		if err == nil {
			if h.failures > 0 {
				h.Log.Info("service check registered again", "service_id", h.ServiceID, "failures", h.failures)
			}
			h.failures = 0
			h.setHealthy(true)
			if h.Registered != nil {
				h.Registered()
			}
			return wait
		}
		if ctx.Err() != nil {
			return wait
		}
		err = fmt.Errorf("register service check: %w", err)
		h.setFailed(err)
		h.Note(err)
		if h.IsPermanent(err) {
			h.Log.Error("permanent consul error; retrying slowly", "error", err, "retry_in", h.PermanentRetry)
			return h.PermanentRetry
		}
		h.logFailure(err)
		return wait
	}
	if err := h.pass(ctx); err != nil && ctx.Err() == nil {
		// The agent lost the check (restarted without its state) or could
		// not be reached (and may have restarted): register it again at once,
		// and create no session until that succeeded.
		h.setHealthy(false)
		err = fmt.Errorf("pass the session's check: %w", err)
		h.Note(err)
		h.Log.Warn("passing the session's check; registering it again", "error", err, "check_id", h.checkID)
		return 0
	}
	return wait
}

// warnEvery is how often a registration that keeps failing is logged at
// Warn; the failures between are logged at Debug (they come every
// CheckTTL/3: a Warn each would flood the logs of a service whose agent
// is down).
const warnEvery = 30 * time.Second

// logFailure logs a failed registration: at Warn the first of a run and
// one every warnEvery, with how many failed so far.
func (h *Heartbeat) logFailure(err error) {
	h.failures++
	now := h.Clock.Now()
	if h.failures == 1 || now.Sub(h.warned) >= warnEvery {
		h.warned = now
		h.Log.Warn("consul error; retrying", "error", err, "service_id", h.ServiceID, "failures", h.failures)
		return
	}
	h.Log.Debug("consul error; retrying", "error", err, "service_id", h.ServiceID, "failures", h.failures)
}

// Healthy reports whether the check is known registered and passing.
func (h *Heartbeat) Healthy() bool { return h.isHealthy() }

func (h *Heartbeat) isHealthy() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return isClosed(h.healthyCh)
}

// setHealthy is called by the heartbeat's goroutine (and by Start) only.
func (h *Heartbeat) setHealthy(ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch was := isClosed(h.healthyCh); {
	case ok && !was:
		h.failErr = nil
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

// WaitHealthy waits until the check is registered and passing, or ctx
// ends. If failed is set, it is told of each registration that failed
// meanwhile (the latest one before the call too); when it returns false,
// WaitHealthy gives up with that error.
func (h *Heartbeat) WaitHealthy(ctx context.Context, failed func(error) bool) error {
	var told error
	for {
		h.mu.Lock()
		ok, fail, next := h.healthyCh, h.failErr, h.failCh
		h.mu.Unlock()
		if failed != nil && fail != nil && fail != told && !isClosed(ok) {
			told = fail
			if !failed(fail) {
				return fail
			}
			continue
		}
		select {
		case <-ok:
			return nil
		case <-next:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// setFailed records a failed registration (by the heartbeat's goroutine).
func (h *Heartbeat) setFailed(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failErr = err
	close(h.failCh)
	h.failCh = make(chan struct{})
}

// Suspect asks the heartbeat to verify its check by registering it again
// (session creation found it missing or critical).
func (h *Heartbeat) Suspect() {
	select {
	case h.suspectCh <- struct{}{}:
	default:
	}
}

// Stop ends the heartbeat, waits for it, and deregisters the service
// (which removes the check) within ctx.
func (h *Heartbeat) Stop(ctx context.Context) {
	h.cancel()
	<-h.done
	rctx, cancel := context.WithTimeout(ctx, h.Timeout)
	defer cancel()
	if err := h.Client.Agent().ServiceDeregisterOpts(h.ServiceID, (&api.QueryOptions{}).WithContext(rctx)); err != nil {
		h.Log.Warn("deregistering the session's service", "error", err, "service_id", h.ServiceID)
	}
}

func (h *Heartbeat) register(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(ctx, h.Timeout)
	defer cancel()
	reg := &api.AgentServiceRegistration{
		ID: h.ServiceID, Name: h.ServiceName, Meta: h.Meta,
		Check: &api.AgentServiceCheck{
			CheckID: h.checkID, Name: "consulelect lease", TTL: h.CheckTTL.String(), Status: api.HealthPassing,
			DeregisterCriticalServiceAfter: h.Deregister.String(),
		},
	}
	return h.Client.Agent().ServiceRegisterOpts(reg, api.ServiceRegisterOpts{ReplaceExistingChecks: true}.WithContext(rctx))
}

// pass passes the TTL check. The output never changes, so the agent does
// not forward anything to the servers: the heartbeat is agent-local.
func (h *Heartbeat) pass(ctx context.Context) error {
	// Bounded by the beat: a pass hung on a dead connection must not hold
	// up the next beat (and the registration after a failure).
	rctx, cancel := context.WithTimeout(ctx, min(h.Timeout, h.CheckTTL/3))
	defer cancel()
	return h.Client.Agent().UpdateTTLOpts(h.checkID, "", api.HealthPassing, (&api.QueryOptions{}).WithContext(rctx))
}
