package leader

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/hashicorp/consul/api"
	"github.com/hashicorp/go-hclog"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/internal/core/hold"
)

// An Elector campaigns for one Consul key on behalf of this process. Use
// Run (blocking) or Start/Stop (for lifecycle hooks); an Elector can run
// again after it stopped. All methods are safe for concurrent use.
type Elector struct {
	client     *api.Client
	cfg        Config
	log        hclog.Logger
	clock      clock
	newBackoff func() backoff.BackOff
	leaderFunc LeaderFunc
	metrics    Metrics
	group      *Group
	hb         *hold.Heartbeat // the running campaign's check and renewals (run's goroutine only)
	state      *state
	value      []byte // our JSON holder value
	serviceID  string
	adv        *advertiser    // nil without Config.Advertise
	exit       func(code int) // os.Exit (ExitOnStragglers)

	mu        sync.Mutex
	cur       *runState       // the run in progress, nil when stopped
	stopCtx   context.Context // set by Stop, bounds the cleanup
	abandoned <-chan struct{} // open while leader work left running at a stop still runs
	live      *candidates     // the running line of live candidates, nil when stopped (unused in a Group)
}

// runState is one run of the campaign (Start or Run until it stopped).
type runState struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when the run has returned
	err    error         // its outcome (ErrLeaderWorkRunning); guarded by Elector.mu
}

// Option configures an Elector.
type Option func(*Elector)

// WithLogger sets the logger (default, and for nil: none); for a
// *slog.Logger, pass consulelect.FromSlog(l). Transitions are logged once
// with the keys key, identity, session, token and reason.
func WithLogger(l hclog.Logger) Option {
	return func(e *Elector) {
		if l != nil {
			e.log = l
		}
	}
}

// WithLeaderFunc sets the leader work run for every term; see LeaderFunc.
func WithLeaderFunc(f LeaderFunc) Option { return func(e *Elector) { e.leaderFunc = f } }

// withClock replaces the time source (tests).
func withClock(c clock) Option { return func(e *Elector) { e.clock = c } }

// New returns an Elector for cfg on client. Zero timings take their
// defaults; a config that breaks a rule is refused with an error that wraps
// consulelect.ErrInvalidConfig and names the field.
func New(client *api.Client, cfg Config, opts ...Option) (*Elector, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: client must not be nil", consulelect.ErrInvalidConfig)
	}
	e := &Elector{client: client, log: hclog.NewNullLogger(), clock: realClock{}, newBackoff: defaultBackoff,
		exit: os.Exit}
	for _, o := range opts {
		o(e)
	}
	if g := e.group; g != nil {
		var err error
		if cfg, err = g.shared(cfg); err != nil {
			return nil, err
		}
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	e.cfg, e.state = cfg, newState(cfg.Key, cfg.Identity)
	e.log = e.log.With("key", cfg.Key)
	e.serviceID = newServiceID(cfg.ServiceName)
	if e.group != nil { // a group's electors are its service, one replica
		e.serviceID = e.group.hb.ServiceID
	}
	e.value = newHolderValue(cfg, e.serviceID, e.clock.Now())
	e.adv = e.newAdvertiser()
	return e, nil
}

// Config returns the elector's configuration with defaults applied.
func (e *Elector) Config() Config { return e.cfg }

// Status returns a snapshot of the elector's state.
func (e *Elector) Status() Status {
	s := e.state.snapshot()
	s.Candidates, s.CandidatesError, _ = e.line().snapshot()
	return s
}

// line is the running line of live candidates: the elector's own, or
// its balancing Group's replicas (looked up anew, since a Group can be
// restarted under its electors); nil when there is none.
func (e *Elector) line() *candidates {
	e.mu.Lock()
	running := e.cur != nil
	live := e.live
	e.mu.Unlock()
	if e.group != nil {
		if b := e.group.balance(); b != nil && running {
			return b.line
		}
		return nil
	}
	return live
}

func (e *Elector) setLine(c *candidates) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.live = c
}

// IsLeader reports whether a term is active now: the same answer as
// Status().Role == RoleLeader.
func (e *Elector) IsLeader() bool { return e.state.activeTerm() != nil }

// Term returns the active term, or nil when not leading.
func (e *Elector) Term() *Term { return e.state.activeTerm() }

// Run campaigns until ctx ends (or Stop is called), then gives leadership
// up in order (term cancelled, leader work awaited for at most
// StopTimeout, or within Stop's ctx, key released, session destroyed) and
// returns. It returns nil after a clean stop, ErrLeaderWorkRunning if
// leader work outlived the cleanup, and ErrAlreadyRunning if the elector
// is running.
func (e *Elector) Run(ctx context.Context) error {
	r, err := e.begin(ctx)
	if err != nil {
		return err
	}
	<-r.done
	e.mu.Lock()
	defer e.mu.Unlock()
	return r.err
}

// Start starts campaigning in the background and returns at once; Stop
// ends it.
func (e *Elector) Start() error {
	_, err := e.begin(context.Background())
	return err
}

// begin starts the campaign in a goroutine with a ctx derived from parent
// that Stop can cancel. It refuses while leader work that a stop left
// running still runs (ErrLeaderWorkRunning): the elector must not lead
// again beside it.
func (e *Elector) begin(parent context.Context) (*runState, error) {
	if err := e.groupReady(); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cur != nil {
		return nil, ErrAlreadyRunning
	}
	if e.abandoned != nil {
		select {
		case <-e.abandoned:
			e.abandoned = nil
		default:
			return nil, fmt.Errorf("%w: from an earlier run", ErrLeaderWorkRunning)
		}
	}
	if e.group != nil { // the group's check errors are reported to us too
		if err := e.group.join(e); err != nil {
			return nil, err
		}
		if err := e.group.lastCheckErr(); err != nil {
			e.noteError(err) // reported before this elector joined
		}
	}
	ctx, cancel := context.WithCancel(parent)
	r := &runState{cancel: cancel, done: make(chan struct{})}
	e.cur, e.stopCtx = r, nil
	go func() {
		defer close(r.done)
		defer cancel()
		e.run(ctx)
		e.mu.Lock()
		defer e.mu.Unlock()
		e.cur = nil
	}()
	return r, nil
}

// Stop stops the elector, started with Start or Run: it cancels the term,
// waits for leader work, releases the key before destroying the session
// (so a successor leads at once, without lock-delay) and deregisters the
// check. All of it is bounded by ctx (the last two steps get at most
// 250ms each once ctx has ended, so a hung agent delays Stop by at most
// 500ms past ctx): if leader work is still running when
// ctx ends, the key is not released (a successor waits for Consul's
// lock-delay) and Stop returns ErrLeaderWorkRunning; the elector cannot be
// started again until that work has returned. It returns ErrNotRunning if
// the elector is not running.
func (e *Elector) Stop(ctx context.Context) error {
	e.mu.Lock()
	r := e.cur
	if r == nil {
		e.mu.Unlock()
		return ErrNotRunning
	}
	e.stopCtx = ctx
	e.mu.Unlock()
	r.cancel()
	<-r.done // every cleanup step is bounded by ctx
	e.mu.Lock()
	defer e.mu.Unlock()
	if r.err == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return r.err
}

// Resign gives leadership up now: the term is cancelled, leader work
// awaited and the key released; Resign returns then (or when ctx ends).
// The elector campaigns again after ResignPause. It returns ErrNotLeader
// when there is no active term.
func (e *Elector) Resign(ctx context.Context) error {
	t := e.Term()
	if t == nil {
		return ErrNotLeader
	}
	e.endGracefully(t, ErrResigned)
	select {
	case <-t.released:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// setRunErr records the outcome of the run in progress.
func (e *Elector) setRunErr(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cur != nil {
		e.cur.err = err
	}
}

// setAbandoned records leader work left running by a stop.
func (e *Elector) setAbandoned(ch <-chan struct{}) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.abandoned = ch
}

// run is the campaign: a fresh session per term, until ctx ends.
func (e *Elector) run(ctx context.Context) {
	e.state.setRole(RoleFollower, nil, e.clock.Now())
	defer e.state.setRole(RoleStopped, nil, e.clock.Now())
	e.log.Info("campaigning", "identity", e.cfg.Identity)
	r := &retrier{b: e.newBackoff(), permanent: e.cfg.PermanentErrorRetry, clock: e.clock, log: e.log, note: e.noteError, state: e.state}
	hb := e.heartbeat(ctx)
	e.hb = hb
	if e.group != nil {
		defer e.group.leave(e) // joined by begin
	}
	var line *candidates // a Group's electors use its replicas' line (e.line)
	if e.group == nil {
		line = e.startCandidates(ctx)
		defer line.stop()
		e.setLine(line)
		defer e.setLine(nil)
	}
	stopAdvertising := e.adv.start() // before the heartbeat stops: its check is the alias's
	defer stopAdvertising()
	for ctx.Err() == nil {
		session, err := e.createSession(ctx, hb, r)
		if err != nil {
			break
		}
		pause := e.campaign(ctx, session, r, line)
		e.destroyWithRetry(ctx, session, r)
		sleep(ctx, e.clock, pause)
	}
	if e.group == nil {
		cctx, cancel := e.bestEffort(ctx)
		defer cancel()
		hb.Stop(cctx)
	}
	e.state.setHolder(nil)
	e.log.Info("stopped", "identity", e.cfg.Identity)
}

// noteError records err in Status and reports it to Metrics.ConsulError.
func (e *Elector) noteError(err error) {
	e.state.setError(err, e.clock.Now())
	e.metrics.consulError(e.cfg.Key, err, IsPermanent(err))
}

// heartbeat returns the check this elector's sessions link to: its own
// (started here, stopped by run) or its group's.
func (e *Elector) heartbeat(ctx context.Context) *hold.Heartbeat {
	if e.group != nil {
		return e.group.hb
	}
	hb := newHeartbeat(e.client, e.cfg, e.serviceID,
		map[string]string{"consulelect_key": e.cfg.Key, "consulelect_identity": e.cfg.Identity,
			metaPriority: strconv.Itoa(e.cfg.Priority), metaVersion: e.cfg.Version,
			metaStarted: strconv.FormatInt(e.clock.Now().UnixMilli(), 10)},
		e.clock, e.log, e.noteError)
	hb.Registered = e.adv.nudge // an agent that lost the check lost the advertised service too
	// Not Run's ctx: the check must keep passing while a stopping leader
	// waits for its work (the key stays ours); run stops it at the end.
	hb.Start(context.WithoutCancel(ctx))
	return hb
}

// groupReady refuses to run in a Group that has not been started, where
// the elector would wait for a check that nobody registers.
func (e *Elector) groupReady() error {
	if e.group != nil && !e.group.running() {
		return fmt.Errorf("%w: start the elector's Group first", ErrNotRunning)
	}
	return nil
}

// destroyWithRetry destroys a used session, retrying transient errors: a
// session left behind would keep holding the key (its check still passes).
// It gives up only when the cleanup bound ends or the error is permanent.
func (e *Elector) destroyWithRetry(ctx context.Context, session string, r *retrier) {
	dctx, cancel := ctx, context.CancelFunc(func() {})
	if ctx.Err() != nil {
		dctx, cancel = e.bestEffort(ctx)
	}
	defer cancel()
	for {
		err := e.destroySession(dctx, session)
		if err == nil || IsPermanent(err) || !r.wait(dctx, "destroy session", err) {
			return
		}
	}
}

// stopGrace is what a cleanup step that needs the agent (destroying the
// session, deregistering the check) gets once Stop's ctx has ended:
// enough for a healthy local agent (a few milliseconds), little enough
// that a hung one delays Stop by at most two of them.
const stopGrace = 250 * time.Millisecond

// bestEffort bounds a cleanup step that must run even when the stop
// context has already ended (destroying the session, deregistering the
// check): stopGrace past Stop's ctx, or one RequestTimeout when the
// campaign ended without Stop (Run's ctx). Skipping such a step is safe:
// the heartbeat has stopped, so the check goes critical within CheckTTL
// (and the session's TTL lapses), and Consul invalidates the session,
// which frees the key after its lock-delay.
func (e *Elector) bestEffort(ctx context.Context) (context.Context, context.CancelFunc) {
	cctx, cancel := e.cleanupContext(ctx)
	if cctx.Err() == nil {
		return cctx, cancel
	}
	cancel()
	grace := e.cfg.RequestTimeout
	if e.stopping() {
		grace = min(grace, stopGrace)
	}
	return context.WithTimeout(context.WithoutCancel(ctx), grace)
}

// stopping reports whether Stop was called (its ctx bounds the cleanup).
func (e *Elector) stopping() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stopCtx != nil
}

// newHeartbeat returns the heartbeat for a check with cfg's timings.
func newHeartbeat(client *api.Client, cfg Config, serviceID string, meta map[string]string, c clock, log hclog.Logger, note func(error)) *hold.Heartbeat {
	return hold.NewHeartbeat(hold.HeartbeatConfig{Client: client, ServiceID: serviceID, ServiceName: cfg.ServiceName,
		Meta: meta, CheckTTL: cfg.CheckTTL, Deregister: cfg.DeregisterCriticalAfter, Timeout: cfg.RequestTimeout,
		PermanentRetry: cfg.PermanentErrorRetry, SessionTTL: cfg.SessionTTL, Datacenter: cfg.Datacenter, Clock: c, Log: log, Note: note,
		IsPermanent: IsPermanent})
}
