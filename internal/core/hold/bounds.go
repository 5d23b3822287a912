package hold

import (
	"fmt"
	"time"
)

// Bound is a lower bound on a configured duration, with its reason.
type Bound struct {
	Name   string
	V, Min time.Duration
	Why    string // the reason for Min; "" when only negatives are refused
}

// CheckBounds reports the first bound broken, naming the field.
func CheckBounds(bs ...Bound) error {
	for _, d := range bs {
		switch {
		case d.V < 0:
			return fmt.Errorf("%s (%v) must not be negative", d.Name, d.V)
		case d.V < d.Min:
			return fmt.Errorf("%s (%v) must be at least %v: %s", d.Name, d.V, d.Min, d.Why)
		}
	}
	return nil
}

// The bounds that every hold's timings share (docs/safety.md).
const (
	// MinSafetyMargin is the least that LockDelay must exceed DemoteAfter
	// by, and at least a tenth of LockDelay.
	MinSafetyMargin = 250 * time.Millisecond
	// MaxLockDelay is Consul's limit.
	MaxLockDelay = 60 * time.Second
	// MinConfirmInterval, MinCheckTTL and MinRequestTimeout bound the
	// timings that load the servers or must fit a healthy request.
	MinConfirmInterval = 100 * time.Millisecond
	MinCheckTTL        = 300 * time.Millisecond
	MinRequestTimeout  = 100 * time.Millisecond
)

// SafetyMargin is the margin the timings must keep between DemoteAfter
// and LockDelay: the larger of MinSafetyMargin and LockDelay/10.
func SafetyMargin(lockDelay time.Duration) time.Duration {
	return max(MinSafetyMargin, lockDelay/10)
}

// CheckTimings checks the safety-relevant timings of a hold: each one's
// bound, LockDelay - DemoteAfter >= SafetyMargin(LockDelay), and
// ConfirmInterval <= DemoteAfter/3.
func CheckTimings(lockDelay, demoteAfter, confirmInterval, checkTTL, requestTimeout time.Duration) error {
	if err := CheckBounds(
		Bound{"LockDelay", lockDelay, 0, ""}, Bound{"DemoteAfter", demoteAfter, 0, ""},
		Bound{"ConfirmInterval", confirmInterval, MinConfirmInterval, "each confirmation is a consistent read verified by a quorum of Consul servers"},
		Bound{"CheckTTL", checkTTL, MinCheckTTL, "the check is passed every CheckTTL/3"},
		Bound{"RequestTimeout", requestTimeout, MinRequestTimeout, "a healthy request to the servers must fit in it"},
	); err != nil {
		return err
	}
	switch {
	case lockDelay > MaxLockDelay:
		return fmt.Errorf("LockDelay (%v) must be at most %v (Consul's limit)", lockDelay, MaxLockDelay)
	case lockDelay-demoteAfter < SafetyMargin(lockDelay):
		return fmt.Errorf("LockDelay (%v) must exceed DemoteAfter (%v) by at least %v",
			lockDelay, demoteAfter, SafetyMargin(lockDelay))
	}
	return nil
}

// The defaults of every hold's timings, one set for the elector and the
// locks; their reasons are in docs/safety.md ("Choosing the defaults")
// and in the leader package's Default* constants.
const (
	DefaultLockDelay       = 2600 * time.Millisecond
	DefaultDemoteAfter     = 2 * time.Second
	DefaultConfirmInterval = 500 * time.Millisecond
	DefaultCheckTTL        = 1200 * time.Millisecond
	DefaultRequestTimeout  = 5 * time.Second
	DefaultSessionTTL      = 10 * time.Second // Consul's minimum
)

// MinSessionTTL and MaxSessionTTL are Consul's limits for session TTLs.
const (
	MinSessionTTL = 10 * time.Second
	MaxSessionTTL = 24 * time.Hour
)

// CheckSessionTTL checks a SessionTTL: negative (none), or within
// Consul's limits.
func CheckSessionTTL(ttl time.Duration) error {
	if ttl >= 0 && (ttl < MinSessionTTL || ttl > MaxSessionTTL) {
		return fmt.Errorf("SessionTTL (%v) must be between %v and %v (Consul's limits), or negative for none", ttl, MinSessionTTL, MaxSessionTTL)
	}
	return nil
}
