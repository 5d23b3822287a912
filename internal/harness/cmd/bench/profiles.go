package main

import (
	"time"

	"github.com/consulelect/consulelect/leader"
)

// profileConfig returns the timings of a named profile: "default" (the
// library's defaults) or "fast", a tighter profile that still satisfies
// the safety inequality (LockDelay − DemoteAfter = 500ms ≥ 250ms) at the
// cost of riding out only ~0.7s of Consul trouble.
func profileConfig(name string) leader.Config {
	if name == "fast" {
		return leader.Config{
			LockDelay: 1500 * time.Millisecond, DemoteAfter: time.Second,
			ConfirmInterval: 250 * time.Millisecond, CheckTTL: 600 * time.Millisecond,
		}
	}
	return leader.Config{}
}
