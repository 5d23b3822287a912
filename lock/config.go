package lock

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/internal/core/hold"
)

// Defaults. They are the leader package's, for the same reasons
// (docs/safety.md, "Choosing the defaults").
const (
	// DefaultLockDelay is the session lock-delay: after Consul invalidates
	// the session, no one can take its locks for this long (for a
	// semaphore, no contender prunes its slot before it). It gives a
	// cut-off holder time to notice and stop.
	DefaultLockDelay = hold.DefaultLockDelay
	// DefaultDemoteAfter is how long a holder keeps a lock without a
	// confirmation from Consul, counted from when the last confirming
	// request was sent.
	DefaultDemoteAfter = hold.DefaultDemoteAfter
	// DefaultConfirmInterval is how often a holder confirms each held lock
	// with a consistent read.
	DefaultConfirmInterval = hold.DefaultConfirmInterval
	// DefaultCheckTTL is the TTL of the check that ties the session to this
	// process: a crashed process loses its locks after at most this long
	// (plus LockDelay before another holder can start).
	DefaultCheckTTL = hold.DefaultCheckTTL
	// DefaultRequestTimeout bounds every non-blocking Consul request.
	DefaultRequestTimeout = hold.DefaultRequestTimeout
	// DefaultSessionTTL is the elector's DefaultSessionTTL (10s).
	DefaultSessionTTL = hold.DefaultSessionTTL
	// DefaultWaitTime is the wait of a waiter's blocking query; a waiter is
	// woken by any change, so this only bounds how long a hung request goes
	// unnoticed: one stuck on a server that a partition cut off is
	// abandoned before the holder's session can expire (the elector's
	// DefaultFollowerWait).
	DefaultWaitTime = 10 * time.Second
	// DefaultServiceName names the service whose TTL check is linked to
	// the session.
	DefaultServiceName = "consulelect-lock"
)

// Config configures a Session. Zero durations take the defaults above.
type Config struct {
	// Identity names this process in lock values and logs. Default
	// "<hostname>-<pid>".
	Identity string
	// Datacenter to use; empty means the agent's.
	Datacenter string
	// ServiceName names the service registered on the local agent whose
	// TTL check is linked to the session. Default DefaultServiceName.
	ServiceName string

	// LockDelay, DemoteAfter, ConfirmInterval and CheckTTL are the
	// safety-relevant timings, with the elector's rules: LockDelay -
	// DemoteAfter >= max(250ms, LockDelay/10), ConfirmInterval <=
	// DemoteAfter/3.
	LockDelay       time.Duration
	DemoteAfter     time.Duration
	ConfirmInterval time.Duration
	CheckTTL        time.Duration
	// SessionTTL is the session's TTL, renewed every SessionTTL/2 while it
	// holds a lock (every 1.5*SessionTTL while it holds none): the
	// backstop that frees a lock whose holder's host lost the Consul
	// servers while other hosts still reach it (as the elector's
	// Config.SessionTTL). Default DefaultSessionTTL; negative for none.
	SessionTTL     time.Duration
	RequestTimeout time.Duration
	WaitTime       time.Duration
}

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
	def(&c.SessionTTL, DefaultSessionTTL)
	def(&c.RequestTimeout, DefaultRequestTimeout)
	def(&c.WaitTime, DefaultWaitTime)
	if c.ServiceName == "" {
		c.ServiceName = DefaultServiceName
	}
	if c.Identity == "" {
		host, _ := os.Hostname()
		c.Identity = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	return c
}

func (c Config) validate() error {
	if err := hold.CheckTimings(c.LockDelay, c.DemoteAfter, c.ConfirmInterval, c.CheckTTL, c.RequestTimeout); err != nil {
		return bad("%v", err)
	}
	if err := hold.CheckSessionTTL(c.SessionTTL); err != nil {
		return bad("%v", err)
	}
	if err := hold.CheckBounds(hold.Bound{Name: "WaitTime", V: c.WaitTime, Min: time.Second, Why: "shorter blocking queries are polling"}); err != nil {
		return bad("%v", err)
	}
	switch {
	case c.ConfirmInterval > c.DemoteAfter/3:
		return bad("ConfirmInterval (%v) must be at most DemoteAfter/3 (%v)", c.ConfirmInterval, c.DemoteAfter/3)
	case c.WaitTime > 10*time.Minute:
		return bad("WaitTime (%v) must be at most 10m (Consul's limit)", c.WaitTime)
	case strings.ContainsAny(c.ServiceName, "/ \t\n"):
		return bad("ServiceName %q must not contain '/' or spaces", c.ServiceName)
	}
	return nil
}

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{consulelect.ErrInvalidConfig}, args...)...)
}

// validateKey applies Consul's rules for KV keys, keeping room for the
// keys a queue or a semaphore adds under it.
func validateKey(what, key string) error {
	if err := hold.ValidateKey(key, 400); err != nil {
		return bad("%s %q %v", what, key, err)
	}
	return nil
}
