package leader

import (
	"sync"
	"time"
)

// Role is what an elector currently is.
type Role int

const (
	// RoleStopped: not running.
	RoleStopped Role = iota
	// RoleFollower: campaigning; another candidate (or nobody) leads.
	RoleFollower
	// RoleLeader: this elector holds the key and its term is active.
	RoleLeader
)

// String names the role: "stopped", "follower" or "leader".
func (r Role) String() string {
	switch r {
	case RoleFollower:
		return "follower"
	case RoleLeader:
		return "leader"
	default:
		return "stopped"
	}
}

// Status is a snapshot of an elector's state.
type Status struct {
	Role     Role
	Key      string
	Identity string
	// Leader is the current holder of the key as last seen, nil if none
	// (or not yet known).
	Leader *Holder
	// Term is the active term while Role is RoleLeader, else nil. It is
	// the live handle, not a copy: its Deadline moves with each
	// confirmation, and it ends when leadership does.
	Term *Term
	// Since is when the elector entered Role.
	Since time.Time
	// LastError is the latest error talking to Consul, nil after the next
	// success. LastErrorAt is when it happened.
	LastError   error
	LastErrorAt time.Time
	// Candidates are the live candidates for the key as last read from
	// the catalog (this elector among them), with their Priority and
	// Version; in a Group, its replicas when it balances (else nil); nil
	// while unknown. CandidatesError says why it
	// is unknown (an ACL without service:read and node:read, say): until it
	// can be read, strategies do not apply and the first to acquire leads.
	Candidates      []Candidate
	CandidatesError error
	// Stragglers names leader work still running StopTimeout after its
	// term ended (or that its leader func reported as still running). The
	// key stays held until it returns, so no replica can lead: liveness
	// fails while it is set. Cleared when the work has returned.
	Stragglers []string
}

// state holds what Status reports, and wakes observers of the holder.
type state struct {
	mu      sync.Mutex
	status  Status
	term    *Term
	handTo  string        // while the key is free: the candidate it was handed to
	changed chan struct{} // closed and replaced when the holder changes
}

func newState(key, identity string) *state {
	return &state{status: Status{Key: key, Identity: identity}, changed: make(chan struct{})}
}

func (s *state) snapshot() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.status
	if t := s.term; t != nil {
		if ended := t.Ended(); !ended.IsZero() {
			// Ended, not yet cleaned up: a follower already, so that Role
			// and IsLeader always agree.
			st.Role, st.Since = RoleFollower, ended
		} else {
			st.Term = t
		}
	}
	if st.Leader != nil {
		h := *st.Leader
		st.Leader = &h
	}
	st.Stragglers = append([]string(nil), st.Stragglers...)
	return st
}

func (s *state) setRole(r Role, t *Term, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.status.Role != r {
		s.status.Role, s.status.Since = r, now
	}
	s.term = t
}

// activeTerm is the term while it is active, else nil: the one source of
// Role == RoleLeader, IsLeader and Term.
func (s *state) activeTerm() *Term {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.term == nil || !s.term.Ended().IsZero() {
		return nil
	}
	return s.term
}

// setHolder records the holder; observers are woken if it changed.
func (s *state) setHolder(h *Holder) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.status.Leader
	if h != nil {
		s.handTo = ""
	}
	if (old == nil) == (h == nil) && (old == nil || (old.Session == h.Session && old.ID == h.ID)) {
		if h != nil {
			s.status.Leader.ModifyIndex = h.ModifyIndex
		}
		return
	}
	s.status.Leader = h
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *state) holder() (*Holder, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.status.Leader == nil {
		return nil, s.changed
	}
	h := *s.status.Leader
	return &h, s.changed
}

// setHandTo records whom the free key was handed to ("" for nobody).
func (s *state) setHandTo(serviceID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handTo = serviceID
}

// holderOrHandTo is the holder's service ID, or while the key is free
// the one it was handed to.
func (s *state) holderOrHandTo() (holder, handTo string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.status.Leader != nil {
		return s.status.Leader.ServiceID, ""
	}
	return "", s.handTo
}

func (s *state) setError(err error, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status.LastError = err
	if err != nil {
		s.status.LastErrorAt = now
	}
}

func (s *state) setStragglers(names []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status.Stragglers = names
}
