package leader

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/internal/core/hold"
)

// Defaults. Their relations are derived in docs/safety.md ("Choosing the
// defaults"); New enforces them.
const (
	// DefaultLockDelay is the session lock-delay: after Consul invalidates
	// a session, no one can acquire its keys for this long. It is what gives
	// a cut-off leader time to notice and stop (DemoteAfter must be smaller).
	// 2.6s leaves leader work 0.5s to stop after a cut-off leader's deadline
	// (with 1% clock-rate error on both sides) and keeps crash failover
	// (about CheckTTL + LockDelay) under 4s; Consul's own default is 15s.
	DefaultLockDelay = hold.DefaultLockDelay
	// DefaultDemoteAfter is how long a leader keeps leading without a
	// confirmation from Consul, counted from when the last confirming request
	// was sent. With DefaultConfirmInterval it lets a leader ride out a Consul
	// outage of at least 1.4s, whenever it starts.
	DefaultDemoteAfter = hold.DefaultDemoteAfter
	// DefaultConfirmInterval is how often the leader asks the Consul leader,
	// with a consistent read, whether it still holds the lock. A leader
	// rides out an outage of DemoteAfter - 1.1*ConfirmInterval - rtt (1.4s
	// with the defaults); halving it would cost twice the reads for 0.25s.
	DefaultConfirmInterval = hold.DefaultConfirmInterval
	// DefaultCheckTTL is the TTL of the service check that ties the session
	// to this process: if the process dies, the check goes critical after at
	// most this long and Consul invalidates the session. The elector passes
	// it every CheckTTL/3, so a process pause of up to 2*CheckTTL/3 (0.8s)
	// does not cost the session.
	DefaultCheckTTL = hold.DefaultCheckTTL
	// DefaultSessionTTL is the session's TTL (see Config.SessionTTL):
	// Consul's minimum, so that a leader whose host lost the servers but
	// not its neighbours frees the key within 2*10s + LockDelay, at the
	// cost of one renewal every 5s per session (docs/safety.md).
	DefaultSessionTTL = hold.DefaultSessionTTL
	// DefaultDeregisterCriticalAfter removes the check's service from the
	// catalog after a crash (1m is Consul's minimum).
	DefaultDeregisterCriticalAfter = time.Minute
	// DefaultFollowerWait is the wait of a follower's blocking query on
	// the key (its query on the line of live candidates waits 2m). A
	// follower is woken by any change of the key, so this only bounds how
	// long a hung request goes unnoticed (plus a 16th and RequestTimeout):
	// a query stuck on a server that a partition cut off silently (the
	// agent gives its connection up only after yamux's 30s keepalive and
	// 10s timeout) is abandoned, and the next one goes to a server that
	// gossip still sees, before a cut-off leader's session can expire
	// (docs/safety.md). api.Lock waits 15s.
	DefaultFollowerWait = 10 * time.Second
	// DefaultRequestTimeout bounds every non-blocking Consul request, and
	// is added to the wait of blocking ones.
	DefaultRequestTimeout = hold.DefaultRequestTimeout
	// DefaultResignPause is how long a resigned elector waits before it
	// campaigns again. A waiting follower acquires within milliseconds, so
	// 1s hands leadership over when any other candidate exists.
	DefaultResignPause = time.Second
	// DefaultPermanentErrorRetry is how often an elector retries after a
	// permanent error (ACL denied, foreign key): slowly, so an operator's
	// fix is picked up without hammering Consul.
	DefaultPermanentErrorRetry = 30 * time.Second
	// DefaultStopTimeout bounds the cleanup (waiting for leader work,
	// releasing the key) when Run's context ends, and is how long leader
	// work may run on after its term ended before it is declared a
	// straggler (Status.Stragglers, liveness failing). Stop uses its own ctx.
	DefaultStopTimeout = 10 * time.Second
	// DefaultStabilityWindow is how long a better candidate (Priority,
	// PreferVersion) must have been live before the leader yields to it: a
	// replica that crash-loops, or is still warming up, does not pull
	// leadership back and forth.
	DefaultStabilityWindow = 10 * time.Second
	// DefaultYieldInterval is how long a term lasts at least before it
	// yields to a better candidate, so that strategy handoffs on a key
	// happen at most once per 30s however candidates come and go.
	DefaultYieldInterval = 30 * time.Second
	// DefaultServiceName names the service whose TTL check is linked to
	// the session.
	DefaultServiceName = "consulelect"

	// MinSafetyMargin is the least that LockDelay must exceed DemoteAfter
	// by, and at least a tenth of LockDelay (see docs/safety.md).
	MinSafetyMargin = hold.MinSafetyMargin
)

// Config configures an Elector. Zero durations take the defaults above.
type Config struct {
	// Key is the Consul KV key campaigned for. Required. For interop with
	// the `consul lock` CLI use "<prefix>/.lock".
	Key string
	// Identity names this candidate in the key's value and in logs.
	// Default: "<hostname>-<pid>".
	Identity string
	// Address is an optional address (host:port) that other replicas can
	// use to reach the leader; stored in the key's value.
	Address string
	// Metadata is free-form data stored in the key's value.
	Metadata map[string]string
	// Datacenter to use; empty means the agent's.
	Datacenter string
	// ServiceName names the service registered on the local agent whose
	// TTL check is linked to the session. Default DefaultServiceName.
	ServiceName string

	// Priority ranks this candidate (README "Choosing the leader"): while a
	// live candidate with a higher Priority exists, the leader hands
	// leadership over to it (once it has been live for StabilityWindow and
	// the term has lasted YieldInterval), and a freed key goes to the
	// highest-priority live candidate first. A
	// negative Priority never leads: the elector follows and reports only.
	// Default 0: all candidates equal, the first to acquire leads.
	Priority int
	// Version is this candidate's version (semantic versioning: "1.4.2",
	// "v2.0.0-rc.1"), shown to other candidates and ranked by PreferVersion.
	Version string
	// PreferVersion, when not AnyVersion (the default), makes the oldest or
	// newest Version lead among live candidates of equal Priority; Version is
	// then required. All candidates of a key should use the same Priority
	// rules and PreferVersion: each ranks the others by its own.
	PreferVersion VersionPreference
	// StabilityWindow is how long a better-ranked candidate must have been
	// live before the leader yields to it. Default DefaultStabilityWindow.
	StabilityWindow time.Duration
	// YieldInterval is how long a term lasts at least before it yields to
	// a better-ranked candidate. Default DefaultYieldInterval.
	YieldInterval time.Duration

	// Advertise, when set, registers a service that other services find
	// the leader by, in the catalog and DNS (leader.<Service>.service.consul):
	// see Advertise. Not in a Group.
	Advertise *Advertise

	// LockDelay, DemoteAfter, ConfirmInterval and CheckTTL are the
	// safety-relevant timings: LockDelay - DemoteAfter >= max(MinSafetyMargin,
	// LockDelay/10), ConfirmInterval <= DemoteAfter/3 (docs/safety.md).
	LockDelay       time.Duration
	DemoteAfter     time.Duration
	ConfirmInterval time.Duration
	CheckTTL        time.Duration
	// SessionTTL is the session's TTL, renewed every SessionTTL/2 while it
	// holds the key (every 1.5*SessionTTL while it waits, and at once when
	// it acquires): the backstop that frees the key when the leader's host is cut off from
	// the Consul servers while other hosts still reach it (its node stays
	// alive in gossip, and its agent cannot tell the servers that the
	// check failed). The servers then invalidate the session 2*SessionTTL
	// after the last renewal (later if the raft leader changes meanwhile:
	// the new one re-arms every session's timer). Default DefaultSessionTTL (10s,
	// Consul's minimum); at most 24h; negative for none.
	SessionTTL time.Duration

	DeregisterCriticalAfter time.Duration
	FollowerWait            time.Duration
	RequestTimeout          time.Duration
	ResignPause             time.Duration
	PermanentErrorRetry     time.Duration
	StopTimeout             time.Duration

	// ExitOnStragglers makes the elector end the process when leader work
	// is still running StopTimeout after its term ended (the work ignores
	// its context). The key stays held while such work runs, so no replica
	// could lead until the process is restarted; with this set the elector
	// destroys its session (Consul then keeps the key for LockDelay, which
	// covers the moment until the process is gone) and calls os.Exit(1), so
	// that the orchestrator restarts it and a successor leads LockDelay
	// later. Off by default: liveness fails and Status names the work.
	ExitOnStragglers bool
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.LockDelay, DefaultLockDelay)
	def(&c.SessionTTL, DefaultSessionTTL)
	def(&c.DemoteAfter, DefaultDemoteAfter)
	def(&c.ConfirmInterval, DefaultConfirmInterval)
	def(&c.CheckTTL, DefaultCheckTTL)
	def(&c.DeregisterCriticalAfter, DefaultDeregisterCriticalAfter)
	def(&c.FollowerWait, DefaultFollowerWait)
	def(&c.RequestTimeout, DefaultRequestTimeout)
	def(&c.ResignPause, DefaultResignPause)
	def(&c.PermanentErrorRetry, DefaultPermanentErrorRetry)
	def(&c.StopTimeout, DefaultStopTimeout)
	def(&c.StabilityWindow, DefaultStabilityWindow)

	def(&c.YieldInterval, DefaultYieldInterval)
	if c.ServiceName == "" {
		c.ServiceName = DefaultServiceName
	}
	if c.Identity == "" {
		host, _ := os.Hostname()
		c.Identity = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if c.Advertise != nil {
		a := c.Advertise.withDefaults(c.Identity)
		c.Advertise = &a
	}
	return c
}

// safetyMargin is the margin the config must keep between DemoteAfter and
// LockDelay: the larger of MinSafetyMargin and LockDelay/10.
func safetyMargin(lockDelay time.Duration) time.Duration { return hold.SafetyMargin(lockDelay) }

// validate reports the first rule c breaks, naming the field.
func (c Config) validate() error {
	if err := validateKey(c.Key); err != nil {
		return bad("Key %q %v", c.Key, err)
	}
	if err := c.validateShared(); err != nil {
		return err
	}
	if c.ConfirmInterval > c.DemoteAfter/3 {
		return bad("ConfirmInterval (%v) must be at most DemoteAfter/3 (%v)", c.ConfirmInterval, c.DemoteAfter/3)
	}
	return c.validateStrategy()
}

// validateStrategy checks the fields that choose the leader.
func (c Config) validateStrategy() error {
	if err := hold.CheckBounds(
		hold.Bound{Name: "StabilityWindow", V: c.StabilityWindow},
		hold.Bound{Name: "YieldInterval", V: c.YieldInterval},
	); err != nil {
		return bad("%v", err)
	}
	if c.Advertise != nil {
		if err := c.Advertise.validate(); err != nil {
			return err
		}
	}
	switch {
	case c.PreferVersion < AnyVersion || c.PreferVersion > NewestVersion:
		return bad("PreferVersion (%v) must be AnyVersion, OldestVersion or NewestVersion", c.PreferVersion)
	case c.Version != "" && parseVersion(c.Version) == nil:
		return bad("Version %q is not a semantic version (like 1.4.2)", c.Version)
	case c.PreferVersion != AnyVersion && c.Version == "":
		return bad("Version is required when PreferVersion is %v", c.PreferVersion)
	}
	return nil
}

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{consulelect.ErrInvalidConfig}, args...)...)
}

// validateShared checks every rule but the key's and the relation of
// ConfirmInterval to DemoteAfter (a Group's config has only the fields
// its electors share; New checks that relation per elector).
func (c Config) validateShared() error {
	if err := hold.CheckTimings(c.LockDelay, c.DemoteAfter, c.ConfirmInterval, c.CheckTTL, c.RequestTimeout); err != nil {
		return bad("%v", err)
	}
	if err := hold.CheckBounds(
		hold.Bound{Name: "DeregisterCriticalAfter", V: c.DeregisterCriticalAfter},
		hold.Bound{Name: "FollowerWait", V: c.FollowerWait, Min: time.Second, Why: "shorter blocking queries are polling"},
		hold.Bound{Name: "ResignPause", V: c.ResignPause},
		hold.Bound{Name: "PermanentErrorRetry", V: c.PermanentErrorRetry, Min: time.Second, Why: "retrying an ACL denial faster only loads the servers"},
		hold.Bound{Name: "StopTimeout", V: c.StopTimeout, Min: 100 * time.Millisecond, Why: "leader work needs time to stop"},
	); err != nil {
		return bad("%v", err)
	}
	if err := hold.CheckSessionTTL(c.SessionTTL); err != nil {
		return bad("%v", err)
	}
	switch {
	case c.DeregisterCriticalAfter < time.Minute:
		return bad("DeregisterCriticalAfter (%v) must be at least 1m (Consul's minimum)", c.DeregisterCriticalAfter)
	case c.FollowerWait > 10*time.Minute:
		return bad("FollowerWait (%v) must be at most 10m (Consul's limit)", c.FollowerWait)
	case strings.ContainsAny(c.ServiceName, "/ \t\n"):
		return bad("ServiceName %q must not contain '/' or spaces", c.ServiceName)
	}
	return nil
}

// validateKey applies Consul's rules for KV keys (hold.ValidateKey).
func validateKey(key string) error { return hold.ValidateKey(key, 512) }
