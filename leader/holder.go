package leader

import (
	"encoding/json"
	"os"
	"time"

	"github.com/hashicorp/consul/api"
)

// Holder describes who holds the key: the JSON value a consulelect
// leader writes into it, plus what Consul says about the lock.
type Holder struct {
	ID       string            `json:"id"`
	Hostname string            `json:"hostname,omitempty"`
	Address  string            `json:"address,omitempty"`
	PID      int               `json:"pid,omitempty"`
	Started  time.Time         `json:"started"`
	Metadata map[string]string `json:"metadata,omitempty"`
	// Candidate is the holder elector's service ID in the catalog.
	Candidate string `json:"candidate,omitempty"`

	// Session is the Consul session holding the key (from Consul, not the
	// value).
	Session string `json:"-"`
	// Token is the key's ModifyIndex as last read. For the term that
	// wrote the value it is at least the term's fencing token.
	Token uint64 `json:"-"`
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
		Candidate: serviceID,
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
	h.Session, h.Token = pair.Session, pair.ModifyIndex
	return h, true
}

// ownHolder is this elector's own entry as holder of the key, built from
// the value it writes (Consul blanks values in transaction results).
func (e *Elector) ownHolder(session string, token uint64) Holder {
	var h Holder
	_ = json.Unmarshal(e.value, &h)
	h.Session, h.Token = session, token
	return h
}
