package leader

import "github.com/consulelect/consulelect/internal/core/hold"

// The elector's time source and timers are the hold's (internal/core/hold).
type (
	clock     = hold.Clock
	stopper   = hold.Stopper
	realClock = hold.RealClock
)

var (
	after = hold.After
	sleep = hold.Sleep
)
