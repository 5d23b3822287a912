package lock

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/hashicorp/consul/api"
	"github.com/hashicorp/go-hclog"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/internal/core/hold"
)

// A Session is this process's Consul session for locks: one session,
// linked to one TTL check that the Session keeps passing on the local
// agent, serves every Mutex and Semaphore of the process (like etcd's
// concurrency.Session), so a lock cycle costs two raft writes (acquire,
// release). If the process dies, the check goes critical within CheckTTL
// and Consul invalidates the session, which releases its locks.
//
// The Consul session is created at the first Lock and created again after
// Consul invalidated it. Goroutines of one process that lock the same key
// take turns in the process, in arrival order, before they contend in
// Consul (a session cannot hold a key twice). Close releases what is held.
// A Session is safe for concurrent use.
type Session struct {
	client     *api.Client
	cfg        Config
	log        hclog.Logger
	metrics    Metrics
	clock      hold.Clock
	newBackoff func() backoff.BackOff
	serviceID  string
	hb         *hold.Heartbeat
	waits      context.Context // cancelled (cause ErrClosed) by Close: ends the Locks still waiting
	stopWaits  func()

	create chan struct{} // one session creation at a time (a token, so that waiting for it heeds ctx)
	mu     sync.Mutex
	id     string // the Consul session; "" until created, or after it was lost
	beat   bool   // the heartbeat runs (started by the first session creation)
	closed bool
	turns  map[string]*turn
	sweeps map[sweepID]chan struct{} // running sweeps; a send starts one's schedule again
	held   map[*Held]struct{}
	holds  map[string]int // tracked holds per Consul session (renewed less often at 0)
	wg     sync.WaitGroup // the goroutines of held locks
}

// Option configures a Session.
type Option func(*Session)

// WithLogger sets the logger (default, and for nil: none); for a
// *slog.Logger, pass consulelect.FromSlog(l).
func WithLogger(l hclog.Logger) Option {
	return func(s *Session) {
		if l != nil {
			s.log = l
		}
	}
}

// NewSession returns a Session for cfg on client. It sends nothing to
// Consul and starts nothing: the check is registered and passed from the
// first Lock on, until Close. Zero timings take their defaults; a config that
// breaks a rule is refused with an error that wraps consulelect.ErrInvalidConfig and
// names the field.
func NewSession(client *api.Client, cfg Config, opts ...Option) (*Session, error) {
	if client == nil {
		return nil, bad("nil Consul client")
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Session{client: client, cfg: cfg, log: hclog.NewNullLogger(), clock: hold.RealClock{},
		newBackoff: defaultBackoff, turns: map[string]*turn{}, sweeps: map[sweepID]chan struct{}{}, held: map[*Held]struct{}{}, holds: map[string]int{}, create: make(chan struct{}, 1)}
	for _, o := range opts {
		o(s)
	}
	waits, cancel := context.WithCancelCause(context.Background())
	s.waits, s.stopWaits = waits, func() { cancel(ErrClosed) }
	s.serviceID = newServiceID(cfg.ServiceName)
	s.hb = hold.NewHeartbeat(hold.HeartbeatConfig{Client: client, ServiceID: s.serviceID, ServiceName: cfg.ServiceName,
		Meta: map[string]string{"consulelect_identity": cfg.Identity}, CheckTTL: cfg.CheckTTL,
		Deregister: deregisterAfter, Timeout: cfg.RequestTimeout, PermanentRetry: permanentRetry, SessionTTL: cfg.SessionTTL, Datacenter: cfg.Datacenter,
		Clock: s.clock, Log: s.log, Note: func(err error) { s.metrics.consulError(err) }, IsPermanent: isPermanent})
	return s, nil
}

// Consul's minimum for removing a crashed process's service, and how
// often the check's registration is retried after a permanent error.
const (
	deregisterAfter = time.Minute
	permanentRetry  = 5 * time.Second
)

func newServiceID(name string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return name + "-" + hex.EncodeToString(b[:])
}

func defaultBackoff() backoff.BackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval = 50*time.Millisecond, time.Second
	b.RandomizationFactor, b.MaxElapsedTime = 0.5, 0
	b.Reset()
	return b
}

func isPermanent(err error) bool {
	return errors.Is(err, consulelect.ErrPermanent) || errors.Is(err, consulelect.ErrForeignKey) ||
		errors.Is(err, ErrLimitConflict) || hold.PermanentStatus(err)
}

// current returns the Consul session, creating it if there is none.
func (s *Session) current(ctx context.Context) (string, error) {
	select {
	case s.create <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-s.create }()
	s.mu.Lock()
	id, closed := s.id, s.closed
	if id == "" && !s.beat && !closed {
		s.beat = true
		s.hb.Start(context.Background()) // stopped by Close
	}
	s.mu.Unlock()
	switch {
	case closed:
		return "", ErrClosed
	case id != "":
		return id, nil
	}
	id, err := s.createSession(ctx)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed { // closed meanwhile: Close destroys what it knows, so do it here
		s.mu.Unlock()
		s.destroy(context.Background(), id)
		s.mu.Lock()
		return "", ErrClosed
	}
	s.id = id
	if s.holds[id] == 0 {
		s.hb.SetWaiting(id, true)
	}
	s.log.Debug("session created", "session", id)
	return id, nil
}

// createSession creates a Consul session linked to the heartbeat's check,
// retrying transient errors until ctx ends; the error says why it failed.
func (s *Session) createSession(ctx context.Context) (string, error) {
	var last error
	b := s.newBackoff()
	id, err := hold.CreateSession(ctx, s.client, s.hb, hold.SessionSpec{
		Name: "consulelect lock " + s.cfg.Identity, LockDelay: s.cfg.LockDelay, SessionTTL: s.cfg.SessionTTL,
		Datacenter: s.cfg.Datacenter, Timeout: s.cfg.RequestTimeout,
		// The check's registration failing (Consul down, a token the
		// agent refuses) is this wait's error too: a permanent one ends
		// it at once, a transient one is the error the wait ends with.
		CheckFailed: func(err error) bool {
			last = err
			return !isPermanent(err)
		},
	}, func(err error) bool {
		if why := hold.OtherDatacenter(s.cfg.Datacenter, err); why != nil {
			err = fmt.Errorf("%w: %w", consulelect.ErrPermanent, why)
		}
		last = err
		if isPermanent(err) {
			return false
		}
		return hold.Sleep(ctx, s.clock, b.NextBackOff())
	})
	if err != nil || id == "" {
		return "", waitErr("create session", ctx, last)
	}
	return id, nil
}

// forget drops session id after Consul said it no longer exists.
func (s *Session) forget(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.id == id {
		s.id = ""
	}
}

// waitErr is the error of a wait that ended: a permanent Consul error as
// it is, else ctx's error with the last Consul error, if any.
func waitErr(op string, ctx context.Context, last error) error {
	switch {
	case last != nil && isPermanent(last):
		if errors.Is(last, consulelect.ErrPermanent) || errors.Is(last, consulelect.ErrForeignKey) || errors.Is(last, ErrLimitConflict) {
			return fmt.Errorf("%s: %w", op, last)
		}
		return fmt.Errorf("%s: %w: %w", op, consulelect.ErrPermanent, last)
	case ctx.Err() != nil && last != nil:
		return fmt.Errorf("%s: %w (last consul error: %v)", op, ctx.Err(), last)
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return fmt.Errorf("%s: %w", op, last)
}

func (s *Session) destroy(ctx context.Context, id string) {
	rctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	if _, err := s.client.Session().Destroy(id, s.writeOpts(rctx)); err != nil {
		s.log.Warn("destroying the lock session", "error", err, "session", id)
	}
}

// Close ends every lock still held: their contexts are cancelled with
// ErrClosed, and Close waits (within ctx) for their holders to Unlock
// (Do does so when its function returns), so that no lock is released
// while its holder's work may still run. Then it destroys the Consul
// session (a lock whose holder did not Unlock in time is then kept from
// others for LockDelay, Consul's lock-delay, or by the semaphore's
// pruning rule), stops the check and removes it. Locks still waiting, and
// later ones, fail with ErrClosed; a second Close returns ErrClosed.
func (s *Session) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.closed = true
	s.stopWaits() // Locks still waiting return ErrClosed
	id, beat := s.id, s.beat
	held := make([]*Held, 0, len(s.held))
	for h := range s.held {
		held = append(held, h)
	}
	s.mu.Unlock()
	for _, h := range held {
		h.end(ErrClosed)
	}
	var err error
	for _, h := range held {
		select {
		case <-h.cleaned:
		case <-ctx.Done():
			err = fmt.Errorf("close: %q still held at the deadline (not unlocked): %w", h.key, ctx.Err())
		}
	}
	s.wg.Wait()
	if id != "" {
		s.destroy(ctx, id)
	}
	if beat {
		s.hb.Stop(ctx)
	}
	return err
}

func (s *Session) track(h *Held) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if _, ok := s.held[h]; !ok {
		s.holds[h.session]++
		if s.holds[h.session] == 1 {
			s.hb.SetWaiting(h.session, false) // renewed every SessionTTL/2 while it holds
		}
	}
	s.held[h] = struct{}{}
	return true
}

func (s *Session) untrack(h *Held) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.held[h]; !ok {
		return
	}
	delete(s.held, h)
	if s.holds[h.session]--; s.holds[h.session] == 0 {
		delete(s.holds, h.session)
		s.hb.SetWaiting(h.session, true)
	}
}

func (s *Session) writeOpts(ctx context.Context) *api.WriteOptions {
	return (&api.WriteOptions{Datacenter: s.cfg.Datacenter}).WithContext(ctx)
}

func (s *Session) queryOpts(ctx context.Context) *api.QueryOptions {
	return (&api.QueryOptions{Datacenter: s.cfg.Datacenter}).WithContext(ctx)
}

// sessionExists tells whether the session still exists (for the reason
// of a loss; see hold.SessionExists).
func (s *Session) sessionExists(ctx context.Context, id string) bool {
	return hold.SessionExists(ctx, s.client, s.cfg.Datacenter, id, min(s.cfg.RequestTimeout, s.cfg.ConfirmInterval))
}

func (s *Session) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// persist runs op (one request, within RequestTimeout) and, if it fails,
// retries it in the background until it succeeds or the Session closes;
// then it calls done (if not nil).
func (s *Session) persist(what string, op func(ctx context.Context) error, done func()) {
	try := func() error {
		rctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
		defer cancel()
		return op(rctx)
	}
	finish := func() {
		if done != nil {
			done()
		}
	}
	err := try()
	if err == nil {
		finish()
		return
	}
	s.log.Warn("consul error; retrying in the background", "op", what, "error", err)
	s.metrics.consulError(err)
	if !s.spawn(func() {
		defer finish()
		b := s.newBackoff()
		for !s.isClosed() && hold.Sleep(context.Background(), s.clock, b.NextBackOff()) {
			if try() == nil {
				return
			}
		}
	}) {
		finish()
	}
}

// spawn runs f on a goroutine that Close waits for; after Close it runs
// nothing and reports false.
func (s *Session) spawn(f func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
	return true
}

// bound returns ctx, also cancelled when the Session closes, and the
// function that frees it.
func (s *Session) bound(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(s.waits, func() { cancel(ErrClosed) })
	return ctx, func() { stop(); cancel(nil) }
}

// closedErr is ErrClosed when ctx ended because the Session closed, else err.
func closedErr(ctx context.Context, err error) error {
	if err != nil && errors.Is(context.Cause(ctx), ErrClosed) {
		return ErrClosed
	}
	return err
}

// checkSession turns the answer to a write made with session (ok, err)
// into an error, and forgets the session when Consul says it is gone (a
// KV acquire answers that with "invalid session" or with false).
func (s *Session) checkSession(session string, ok bool, err error) error {
	switch {
	case err != nil && strings.Contains(err.Error(), "invalid session"):
		s.forget(session)
		return err
	case err != nil:
		return err
	case !ok:
		s.forget(session)
		return errors.New("refused: session gone")
	}
	return nil
}
