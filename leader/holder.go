package leader

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"time"

	"github.com/hashicorp/consul/api"
)

// Holder describes who holds the key: the JSON value a consulelect
// leader writes into it, plus what Consul says about the lock.
type Holder struct {
	ID       string    `json:"id"`
	Hostname string    `json:"hostname,omitempty"`
	Address  string    `json:"address,omitempty"`
	PID      int       `json:"pid,omitempty"`
	Started  time.Time `json:"started"` // when the holder's elector was made
	// Since is when the holder's term began (its acquire was sent); zero
	// in values written by consulelect before it recorded it.
	Since    time.Time         `json:"since,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`
	// Why says why this holder leads: "first to acquire", "highest priority
	// (3)", "oldest version (1.4.2)", "handed over by <identity>
	// (operator)" and the like (README "Choosing the leader").
	Why string `json:"why,omitempty"`
	// ServiceID is the holder elector's service in the catalog (the one
	// that carries its session's check).
	ServiceID string `json:"candidate,omitempty"` // the JSON name is kept for mixed-version clusters

	// Session is the Consul session holding the key (from Consul, not the
	// value).
	Session string `json:"-"`
	// ModifyIndex is the key's ModifyIndex as last read (not the fencing
	// token, which is the holder's Term.Token: the ModifyIndex right after
	// its acquire; later writes to the key raise this one).
	ModifyIndex uint64 `json:"-"`
	// Foreign is true when the key is held by something other than a
	// consulelect elector (api.Lock, `consul lock`, another tool): the value
	// is not our JSON, so only Session is known.
	Foreign bool `json:"-"`
}

// newHolderValue is the value this elector writes on acquire.
func newHolderValue(cfg Config, serviceID string, started time.Time) []byte {
	host, _ := os.Hostname()
	b, _ := json.Marshal(Holder{
		ID: cfg.Identity, Hostname: host, Address: cfg.Address,
		PID: os.Getpid(), Started: started.UTC().Round(time.Millisecond), Metadata: cfg.Metadata,
		ServiceID: serviceID,
	})
	return b
}

// holderOf reads the holder out of a key; ok is false when nobody holds it.
func holderOf(pair *api.KVPair) (h Holder, ok bool) {
	if pair == nil || pair.Session == "" {
		return Holder{}, false
	}
	if err := json.Unmarshal(pair.Value, &h); err != nil || h.ID == "" || pair.Flags != api.LockFlagValue {
		h = Holder{Foreign: true}
	}
	h.Session, h.ModifyIndex = pair.Session, pair.ModifyIndex
	return h, true
}

// ownHolder is this elector's own entry as holder of the key, built from
// the value it wrote (Consul blanks values in transaction results).
func ownHolder(value []byte, session string, token uint64) Holder {
	var h Holder
	_ = json.Unmarshal(value, &h)
	h.Session, h.ModifyIndex = session, token
	return h
}

// termValue is a term's value in the key: the holder, and whether the
// leader follows handoff requests (RequestHandOff asks only one that does).
type termValue struct {
	Holder
	Requests bool `json:"handoff_requests,omitempty"`
}

// valueFor is this elector's value for a term that leads because of why.
func (e *Elector) valueFor(why string, since time.Time) []byte {
	var v termValue
	_ = json.Unmarshal(e.value, &v.Holder)
	v.Why, v.Requests, v.Since = why, e.group == nil, since.UTC().Round(time.Millisecond)
	b, _ := json.Marshal(v)
	return b
}

// releaseNote is the value a leader leaves in the key it releases: its
// holder value, plus the candidate it hands the key to, if any, and why.
type releaseNote struct {
	Holder
	HandTo string `json:"handoff_to,omitempty"` // a service ID
	Cause  string `json:"handoff_cause,omitempty"`
}

// releaseValue is value (a term's) with the handoff, for the release.
func releaseValue(value []byte, handTo, cause string) []byte {
	if handTo == "" {
		return value
	}
	var n releaseNote
	_ = json.Unmarshal(value, &n.Holder)
	n.HandTo, n.Cause = handTo, cause
	b, _ := json.Marshal(n)
	return b
}

// released reads the note in a free key's value (zero if it is not ours).
func released(pair *api.KVPair) releaseNote {
	var n releaseNote
	if pair != nil && json.Unmarshal(pair.Value, &n) != nil {
		return releaseNote{}
	}
	return n
}

// newServiceID is a fresh ID for the service that carries a check:
// prefix, a dash and 12 random hex digits.
func newServiceID(prefix string) string {
	var id [6]byte
	_, _ = rand.Read(id[:])
	return prefix + "-" + hex.EncodeToString(id[:])
}
