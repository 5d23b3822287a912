package leader

import (
	"encoding/json"
	"net/http"
	"regexp"
	"time"
)

// StatusJSON is the JSON form of Status served by HealthHandler.
type StatusJSON struct {
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
}

// JSON returns the status in the form HealthHandler serves. Nothing
// secret appears in it: Consul tokens travel in headers, and anything that
// looks like a token parameter in an error is redacted.
func (s Status) JSON() StatusJSON {
	j := StatusJSON{Role: s.Role.String(), IsLeader: s.Role == RoleLeader && s.Term != nil,
		Key: s.Key, Identity: s.Identity, Leader: s.Leader, Stragglers: s.Stragglers}
	if s.Leader != nil {
		j.LeaderForeign = s.Leader.Foreign
	}
	if !s.Since.IsZero() {
		j.Since = &s.Since
	}
	if s.Term != nil {
		j.FencingToken = s.Term.Token
		j.Deadline = &s.Term.Deadline
	}
	if s.LastError != nil {
		j.LastError = redact(s.LastError.Error())
		j.LastErrorAt = &s.LastErrorAt
	}
	return j
}

var tokenParam = regexp.MustCompile(`(?i)(token=)[^&\s"]+`)

func redact(s string) string { return tokenParam.ReplaceAllString(s, "${1}redacted") }

// HealthHandler serves the elector's status as JSON, always with 200: a
// follower or a Consul outage is a state to report, not a failure.
func (e *Elector) HealthHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, e.Status().JSON())
	})
}

// LeaderHandler answers 200 while this elector leads and 429 otherwise
// (like Vault's /sys/health for standbys), for load balancers and routers
// that must reach the leader only.
func (e *Elector) LeaderHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		code := http.StatusTooManyRequests
		if e.IsLeader() {
			code = http.StatusOK
		}
		writeJSON(w, code, e.Status().JSON())
	})
}

// LivenessHandler fails (503) when restarting the process is the cure:
// while leader work is a straggler (Status.Stragglers: still running
// StopTimeout after its term ended, so the key stays held and no replica
// can lead), and for a zombie leader, whose active term is past its
// deadline by more than the safety margin (the elector's own timer could
// not run: the process is wedged). Followers and Consul outages are not
// liveness failures: restarting would not help.
func (e *Elector) LivenessHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if st := e.Status(); len(st.Stragglers) > 0 {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{
				"status": "leader work stuck", "stragglers": st.Stragglers})
			return
		}
		if t := e.Term(); t != nil {
			if over := e.clock.Now().Sub(t.Deadline()); over > SafetyMargin(e.cfg.LockDelay) {
				writeJSON(w, http.StatusServiceUnavailable, map[string]string{
					"status": "zombie leader", "past_deadline": over.String()})
				return
			}
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "role": e.Status().Role.String()})
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
