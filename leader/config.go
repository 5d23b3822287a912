package leader

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// Defaults. Their relations are derived in docs/safety.md; New enforces them.
const (
	// DefaultLockDelay is the session lock-delay: after Consul invalidates
	// a session, no one can acquire its keys for this long. It is what gives
	// a cut-off leader time to notice and stop (DemoteAfter must be smaller).
	// 3s keeps crash failover (CheckTTL + LockDelay) under 5s; Consul's
	// own default is 15s.
	DefaultLockDelay = 3 * time.Second
	// DefaultDemoteAfter is how long a leader keeps leading without a
	// confirmation from Consul, counted from when the last confirming request
	// was sent. It is the Consul outage a leader rides out. 2s leaves a 1s
	// margin below DefaultLockDelay for clock-rate error and for leader work
	// to observe the cancelled term.
	DefaultDemoteAfter = 2 * time.Second
	// DefaultConfirmInterval is the wait of the leader's consistent blocking
	// query on its key: at least this often the leader learns from the
	// Consul leader that it still holds the lock. A quarter of DemoteAfter so
	// that a leader tolerates an outage of at least 1.4s.
	DefaultConfirmInterval = 500 * time.Millisecond
	// DefaultCheckTTL is the TTL of the service check that ties the session
	// to this process: if the process dies, the check goes critical after at
	// most this long and Consul invalidates the session. The elector passes
	// it every CheckTTL/3.
	DefaultCheckTTL = 1500 * time.Millisecond
	// DefaultDeregisterCriticalAfter removes the check's service from the
	// catalog after a crash (1m is Consul's minimum).
	DefaultDeregisterCriticalAfter = time.Minute
	// DefaultFollowerWait is the wait of a follower's blocking query. A
	// follower is woken by any change of the key, so this only bounds how
	// long a hung request goes unnoticed (plus RequestTimeout).
	DefaultFollowerWait = 5 * time.Minute
	// DefaultRequestTimeout bounds every non-blocking Consul request, and
	// is added to the wait of blocking ones.
	DefaultRequestTimeout = 5 * time.Second
	// DefaultResignPause is how long a resigned elector waits before it
	// campaigns again. A waiting follower acquires within milliseconds, so
	// 1s hands leadership over when any other candidate exists.
	DefaultResignPause = time.Second
	// DefaultPermanentErrorRetry is how often an elector retries after a
	// permanent error (ACL denied, foreign key): slowly, so an operator's
	// fix is picked up without hammering Consul.
	DefaultPermanentErrorRetry = 30 * time.Second
	// DefaultStopTimeout bounds the cleanup (waiting for leader work,
	// releasing the key) when Run's context ends. Stop uses its own ctx.
	DefaultStopTimeout = 10 * time.Second
	// DefaultServiceName names the service whose TTL check is linked to
	// the session.
	DefaultServiceName = "consulelect"

	// MinSafetyMargin is the least that LockDelay must exceed DemoteAfter
	// by, and at least a tenth of LockDelay (see docs/safety.md).
	MinSafetyMargin = 250 * time.Millisecond
	// maxLockDelay is Consul's limit.
	maxLockDelay = 60 * time.Second
	// minSessionTTL and maxSessionTTL are Consul's limits for session TTLs.
	minSessionTTL = 10 * time.Second
	maxSessionTTL = 24 * time.Hour
	// minCheckTTL keeps the heartbeat (CheckTTL/3) at a sane rate.
	minCheckTTL = 300 * time.Millisecond
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

	// LockDelay, DemoteAfter, ConfirmInterval and CheckTTL are the
	// safety-relevant timings: LockDelay - DemoteAfter >= max(MinSafetyMargin,
	// LockDelay/10), ConfirmInterval <= DemoteAfter/3 (docs/safety.md).
	LockDelay       time.Duration
	DemoteAfter     time.Duration
	ConfirmInterval time.Duration
	CheckTTL        time.Duration
	// SessionTTL adds a TTL to the session, a backstop on top of the linked
	// checks. 0 (the default) means none; otherwise 10s to 24h (Consul's
	// limits), renewed every SessionTTL/3.
	SessionTTL time.Duration

	DeregisterCriticalAfter time.Duration
	FollowerWait            time.Duration
	RequestTimeout          time.Duration
	ResignPause             time.Duration
	PermanentErrorRetry     time.Duration
	StopTimeout             time.Duration
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.LockDelay, DefaultLockDelay)
	def(&c.DemoteAfter, DefaultDemoteAfter)
	def(&c.ConfirmInterval, DefaultConfirmInterval)
	def(&c.CheckTTL, DefaultCheckTTL)
	def(&c.DeregisterCriticalAfter, DefaultDeregisterCriticalAfter)
	def(&c.FollowerWait, DefaultFollowerWait)
	def(&c.RequestTimeout, DefaultRequestTimeout)
	def(&c.ResignPause, DefaultResignPause)
	def(&c.PermanentErrorRetry, DefaultPermanentErrorRetry)
	def(&c.StopTimeout, DefaultStopTimeout)
	if c.ServiceName == "" {
		c.ServiceName = DefaultServiceName
	}
	if c.Identity == "" {
		host, _ := os.Hostname()
		c.Identity = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	return c
}

// SafetyMargin is the margin the config must keep between DemoteAfter and
// LockDelay: the larger of MinSafetyMargin and LockDelay/10.
func SafetyMargin(lockDelay time.Duration) time.Duration {
	return max(MinSafetyMargin, lockDelay/10)
}

// validate reports the first rule c breaks, naming the field.
func (c Config) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	if err := validateKey(c.Key); err != nil {
		return bad("Key %q %v", c.Key, err)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"LockDelay", c.LockDelay}, {"DemoteAfter", c.DemoteAfter},
		{"ConfirmInterval", c.ConfirmInterval}, {"CheckTTL", c.CheckTTL},
		{"SessionTTL", c.SessionTTL}, {"DeregisterCriticalAfter", c.DeregisterCriticalAfter},
		{"FollowerWait", c.FollowerWait}, {"RequestTimeout", c.RequestTimeout},
		{"ResignPause", c.ResignPause}, {"PermanentErrorRetry", c.PermanentErrorRetry},
		{"StopTimeout", c.StopTimeout},
	} {
		if d.v < 0 {
			return bad("%s (%v) must not be negative", d.name, d.v)
		}
	}
	switch {
	case c.LockDelay > maxLockDelay:
		return bad("LockDelay (%v) must be at most %v (Consul's limit)", c.LockDelay, maxLockDelay)
	case c.LockDelay-c.DemoteAfter < SafetyMargin(c.LockDelay):
		return bad("LockDelay (%v) must exceed DemoteAfter (%v) by at least %v",
			c.LockDelay, c.DemoteAfter, SafetyMargin(c.LockDelay))
	case c.ConfirmInterval > c.DemoteAfter/3:
		return bad("ConfirmInterval (%v) must be at most DemoteAfter/3 (%v)", c.ConfirmInterval, c.DemoteAfter/3)
	case c.CheckTTL < minCheckTTL:
		return bad("CheckTTL (%v) must be at least %v", c.CheckTTL, minCheckTTL)
	case c.SessionTTL != 0 && (c.SessionTTL < minSessionTTL || c.SessionTTL > maxSessionTTL):
		return bad("SessionTTL (%v) must be 0 or between %v and %v (Consul's limits)", c.SessionTTL, minSessionTTL, maxSessionTTL)
	case c.DeregisterCriticalAfter < time.Minute:
		return bad("DeregisterCriticalAfter (%v) must be at least 1m (Consul's minimum)", c.DeregisterCriticalAfter)
	case c.FollowerWait > 10*time.Minute:
		return bad("FollowerWait (%v) must be at most 10m (Consul's limit)", c.FollowerWait)
	case strings.ContainsAny(c.ServiceName, "/ \t\n"):
		return bad("ServiceName %q must not contain '/' or spaces", c.ServiceName)
	}
	return nil
}

// validateKey applies Consul's rules for KV keys that the API would
// otherwise report only at the first request.
func validateKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("must not be empty")
	case strings.HasPrefix(key, "/"):
		return fmt.Errorf("must not start with '/'")
	case strings.HasSuffix(key, "/"):
		return fmt.Errorf("must not end with '/' (that names a folder)")
	case len(key) > 512:
		return fmt.Errorf("must be at most 512 bytes")
	case strings.ContainsAny(key, "\x00\n\r\t?#%"):
		return fmt.Errorf("must not contain control characters, '?', '#' or '%%'")
	}
	return nil
}
