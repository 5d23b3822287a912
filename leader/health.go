package leader

import (
	"encoding/json"
	"net/http"
	"regexp"
	"time"
)

// Handlers are an elector's HTTP endpoints, to mount on the service's own
// server. None of them ever shows an ACL token.
type Handlers struct {
	// Status always answers 200 with the status as JSON: a follower or a
	// Consul outage is a state to report, not a failure. Fields: role,
	// is_leader, key, identity, leader (id, hostname, address, pid,
	// started, metadata, why, candidate), leader_foreign, fencing_token,
	// since, deadline, last_error, last_error_at, stragglers, candidates
	// (identity, service_id, priority, version, live_since) and
	// candidates_error.
	Status http.Handler
	// LeaderOnly answers 200 while this elector leads and 429 otherwise
	// (like Vault's /sys/health for standbys), for load balancers and
	// routers that must reach the leader only.
	LeaderOnly http.Handler
	// Liveness fails (503) when restarting the process is the cure: while
	// leader work is a straggler (Status.Stragglers: still running
	// StopTimeout after its term ended, so the key stays held and no
	// replica can lead), and for a zombie leader, whose active term is past
	// its deadline by more than the safety margin (the elector's own timer
	// could not run: the process is wedged). Followers and Consul outages
	// are live: restarting would not help.
	Liveness http.Handler
}

// Handlers returns the elector's HTTP endpoints.
func (e *Elector) Handlers() Handlers {
	return Handlers{
		Status: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, e.Status().json())
		}),
		LeaderOnly: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			st := e.Status()
			code := http.StatusTooManyRequests
			if st.Role == RoleLeader {
				code = http.StatusOK
			}
			writeJSON(w, code, st.json())
		}),
		Liveness: http.HandlerFunc(e.liveness),
	}
}

func (e *Elector) liveness(w http.ResponseWriter, _ *http.Request) {
	st := e.Status()
	if len(st.Stragglers) > 0 {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{
			"status": "leader work stuck", "stragglers": st.Stragglers})
		return
	}
	if t := st.Term; t != nil {
		if over := e.clock.Now().Sub(t.Deadline()); over > safetyMargin(e.cfg.LockDelay) {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{
				"status": "zombie leader", "past_deadline": over.String()})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "role": st.Role.String()})
}

// statusJSON is the JSON form of Status served by Handlers.Status.
type statusJSON struct {
	Role          string     `json:"role"`
	IsLeader      bool       `json:"is_leader"`
	Key           string     `json:"key"`
	Identity      string     `json:"identity"`
	Leader        *Holder    `json:"leader"`
	LeaderForeign bool       `json:"leader_foreign,omitempty"`
	FencingToken  uint64     `json:"fencing_token,omitempty"`
	Since         *time.Time `json:"since,omitempty"`
	Deadline      *time.Time `json:"deadline,omitempty"`
	LastError     string     `json:"last_error,omitempty"`
	LastErrorAt   *time.Time `json:"last_error_at,omitempty"`
	Stragglers    []string   `json:"stragglers,omitempty"`
	// Candidates is the line of live candidates (Status.Candidates).
	Candidates      []candidateJSON `json:"candidates,omitempty"`
	CandidatesError string          `json:"candidates_error,omitempty"`
}

type candidateJSON struct {
	Identity  string    `json:"identity"`
	ServiceID string    `json:"service_id"`
	Priority  int       `json:"priority"`
	Version   string    `json:"version,omitempty"`
	Since     time.Time `json:"live_since"`
}

// json returns the status in the form Handlers.Status serves. Nothing
// secret appears in it: Consul tokens travel in headers, and anything that
// looks like a token parameter in an error is redacted.
func (s Status) json() statusJSON {
	j := statusJSON{Role: s.Role.String(), IsLeader: s.Role == RoleLeader,
		Key: s.Key, Identity: s.Identity, Leader: s.Leader, Stragglers: s.Stragglers}
	if s.Leader != nil {
		j.LeaderForeign = s.Leader.Foreign
	}
	if !s.Since.IsZero() {
		j.Since = &s.Since
	}
	if s.Term != nil {
		deadline := s.Term.Deadline()
		j.FencingToken, j.Deadline = s.Term.Token(), &deadline
	}
	if s.LastError != nil {
		j.LastError = redact(s.LastError.Error())
		j.LastErrorAt = &s.LastErrorAt
	}
	for _, c := range s.Candidates {
		j.Candidates = append(j.Candidates, candidateJSON(c))
	}
	if s.CandidatesError != nil {
		j.CandidatesError = redact(s.CandidatesError.Error())
	}
	return j
}

var tokenParam = regexp.MustCompile(`(?i)(token=)[^&\s"]+`)

func redact(s string) string { return tokenParam.ReplaceAllString(s, "${1}redacted") }

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
