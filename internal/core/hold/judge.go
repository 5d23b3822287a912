package hold

import (
	"time"

	"github.com/hashicorp/consul/api"
)

// JudgeKey applies one read of a lock's key to hold h of session (token:
// the acquire's ModifyIndex): it ends h if the lock is lost (with deleted
// or taken as the reason, or by EndLost when the key is free: released or
// invalidated, for the owner to find out which); if confirm (a consistent
// read sent at sent) and the lock is held, it moves the deadline. It
// reports whether h was confirmed.
func JudgeKey(h *Hold, session string, token uint64, pair *api.KVPair, sent time.Time, confirm bool,
	demoteAfter time.Duration, deleted, taken error) bool {
	switch {
	case !confirm && pair != nil && pair.ModifyIndex < token:
		// A default-consistency read from before our acquire (a deposed
		// Consul leader's stale state): it proves nothing.
	case pair == nil || pair.ModifyIndex == 0: // get-or-empty answers a missing key with an empty entry
		h.End(deleted)
	case pair.Session == "":
		h.EndLost()
	case pair.Session != session:
		h.End(taken)
	case !confirm:
	default:
		return h.Confirm(sent, demoteAfter)
	}
	return false
}
