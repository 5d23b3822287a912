package leader

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	version "github.com/hashicorp/go-version"
)

// VersionPreference says which Version leads among live candidates of
// equal Priority (Config.PreferVersion).
type VersionPreference int

const (
	// AnyVersion: versions do not matter; the first to acquire leads.
	AnyVersion VersionPreference = iota
	// OldestVersion: the candidate with the lowest Version leads, so that in
	// a rolling upgrade the new version takes over only once every replica
	// of the old one is gone (Kubernetes' coordinated leader election
	// default).
	OldestVersion
	// NewestVersion: the candidate with the highest Version leads.
	NewestVersion
)

// String names the preference: "any", "oldest" or "newest".
func (p VersionPreference) String() string {
	switch p {
	case OldestVersion:
		return "oldest"
	case NewestVersion:
		return "newest"
	case AnyVersion:
		return "any"
	default:
		return "VersionPreference(" + strconv.Itoa(int(p)) + ")"
	}
}

// A Candidate is an elector campaigning for the key whose check passes in
// Consul's catalog, as this elector last saw it (Status.Candidates).
type Candidate struct {
	// Identity is the candidate's Config.Identity.
	Identity string
	// ServiceID is the candidate's service in the catalog.
	ServiceID string
	// Priority and Version are the candidate's Config.Priority and
	// Config.Version.
	Priority int
	Version  string
	// Since is when the candidate has been live since, as this elector
	// knows it: when it started campaigning, as it reports in the
	// catalog, for the candidates in the first list this elector read;
	// when this elector first saw it live for those that appeared (or came
	// back) later.
	Since time.Time
}

// Service metadata that carries a candidate's strategy inputs in the
// catalog, next to consulelect_key and consulelect_identity.
const (
	metaPriority = "consulelect_priority"
	metaVersion  = "consulelect_version"
	// metaStarted is when the candidate started campaigning (Unix
	// milliseconds): every elector then agrees on how long a candidate
	// has been live, which a freed key's line depends on (a newcomer
	// would otherwise see everyone as new). Clocks that disagree only
	// reorder attempts, never let two hold the key.
	metaStarted = "consulelect_started"
)

// Causes of a handoff, as reported to Metrics.HandedOff and in the new
// leader's Holder.Why.
const (
	causePriority = "priority"
	causeVersion  = "version"
	causeOperator = "operator"
)

// preferWait is how long a candidate that is not the preferred one (a
// better-ranked candidate is live, or the key was handed to another) waits
// before it tries a freed key: ample for the preferred one to acquire (a few
// milliseconds), short beside a crash failover, so a preferred candidate
// that is slow or gone costs little.
const preferWait = 250 * time.Millisecond

// strategy is how an elector ranks candidates: its own preference
// applied to everyone's Priority and Version.
type strategy struct{ prefer VersionPreference }

// compare ranks a against b: negative when a should lead rather than b,
// positive when b should, 0 when neither is preferred.
func (s strategy) compare(a, b Candidate) int {
	if a.Priority != b.Priority {
		if a.Priority > b.Priority {
			return -1
		}
		return 1
	}
	if s.prefer == AnyVersion {
		return 0
	}
	va, vb := parseVersion(a.Version), parseVersion(b.Version)
	switch {
	case va == nil && vb == nil:
		return 0
	case va == nil: // an unknown version never wins on version
		return 1
	case vb == nil:
		return -1
	}
	c := va.Compare(vb)
	if s.prefer == NewestVersion {
		c = -c
	}
	return c
}

// cause names what made b preferred over a (compare(b, a) < 0).
func (s strategy) cause(a, b Candidate) string {
	if a.Priority != b.Priority {
		return causePriority
	}
	return causeVersion
}

// why is the reason self leads, given the other live candidates, for the
// key's value (Holder.Why).
func (s strategy) why(self Candidate, others []Candidate) string {
	lowerPriority, worse := true, false
	for _, o := range others {
		if o.Priority < 0 {
			continue
		}
		c := s.compare(self, o)
		if c > 0 {
			return "no better candidate acquired the free key in time"
		}
		worse = worse || c < 0
		lowerPriority = lowerPriority && o.Priority < self.Priority
	}
	switch {
	case !worse:
		return "first to acquire"
	case lowerPriority:
		return fmt.Sprintf("highest priority (%d)", self.Priority)
	default:
		return fmt.Sprintf("%s version (%s)", s.prefer, self.Version)
	}
}

// parseVersion parses a semantic version ("1.4.2", "v2.0.0-rc.1"), nil
// when it is not one.
func parseVersion(s string) *version.Version {
	if s == "" {
		return nil
	}
	v, err := version.NewSemver(strings.TrimPrefix(s, "v"))
	if err != nil {
		return nil
	}
	return v
}
