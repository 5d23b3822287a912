package hooks

import (
	"time"

	"github.com/hashicorp/go-hclog"
)

// DefaultTimeout bounds each hook call: Lead waits for a hook that long
// and no longer (see "Timeouts" in the package doc). Ten seconds leave
// room for a hook that makes a few network round trips (warm a cache,
// register with a load balancer) while still reporting a stuck one. A hook
// that overruns it is named to the elector as a straggler, which keeps the
// key (no other replica leads) until the hook returns, and fails liveness.
// It equals the elector's default StopTimeout, after which the elector
// names its leader work a straggler itself; at shutdown the elector waits
// for the work within the stop's own bound and past it leaves the key to
// Consul's lock-delay rather than release it.
const DefaultTimeout = 10 * time.Second

// An Option configures LeaderFunc.
type Option func(*runner)

// WithTimeout sets the deadline of each hook call (default
// DefaultTimeout), measured from the call; it must be positive.
func WithTimeout(d time.Duration) Option { return func(r *runner) { r.timeout = d } }

// WithLogger sets the logger (default: none; nil means none). Hooks are
// logged with the key "hook".
func WithLogger(l hclog.Logger) Option {
	return func(r *runner) {
		if l == nil {
			l = hclog.NewNullLogger()
		}
		r.log = l
	}
}
