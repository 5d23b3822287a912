package leader

import (
	"context"
	"fmt"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/internal/core/hold"
)

// createSession creates a session linked to the node's serfHealth and to
// this process's service check, retrying until it succeeds or ctx ends.
func (e *Elector) createSession(ctx context.Context, hb *hold.Heartbeat, r *retrier) (string, error) {
	id, err := hold.CreateSession(ctx, e.client, hb, hold.SessionSpec{
		Name:      "consulelect " + e.cfg.Key + " " + e.cfg.Identity,
		LockDelay: e.cfg.LockDelay, SessionTTL: e.cfg.SessionTTL,
		Datacenter: e.cfg.Datacenter, Timeout: e.cfg.RequestTimeout,
	}, func(err error) bool { return r.wait(ctx, "create session", e.crossDatacenter(err)) })
	if err == nil {
		r.ok()
		hb.SetWaiting(id, true) // renewed less often until it leads (lead)
		e.log.Debug("session created", "session", id)
	}
	return id, err
}

// crossDatacenter turns the answer to a session created in a datacenter
// that does not know this agent's node into a permanent error that says
// what to do: retrying cannot fix it.
func (e *Elector) crossDatacenter(err error) error {
	if why := hold.OtherDatacenter(e.cfg.Datacenter, err); why != nil {
		return fmt.Errorf("%w: %w", consulelect.ErrPermanent, why)
	}
	return err
}

// destroySession destroys a session (its keys should be released first:
// destroying a holding session imposes lock-delay on the successor).
func (e *Elector) destroySession(ctx context.Context, id string) error {
	rctx, cancel := context.WithTimeout(ctx, e.cfg.RequestTimeout)
	defer cancel()
	if _, err := e.client.Session().Destroy(id, e.writeOpts(rctx)); err != nil {
		return fmt.Errorf("destroy session %s: %w", id, err)
	}
	return nil
}

// release releases the key if session still holds it, leaving value.
func (e *Elector) release(ctx context.Context, session string, value []byte) error {
	rctx, cancel := context.WithTimeout(ctx, e.cfg.RequestTimeout)
	defer cancel()
	// The value stays ours (as api.Lock does): followers that wake on the
	// release see who held it (and whom it hands the key to, if anyone).
	pair := &api.KVPair{Key: e.cfg.Key, Session: session, Flags: api.LockFlagValue, Value: value}
	ok, _, err := e.client.KV().Release(pair, e.writeOpts(rctx))
	if err != nil {
		return fmt.Errorf("release %q: %w", e.cfg.Key, err)
	}
	if !ok {
		e.log.Debug("key was no longer held at release", "session", session)
	}
	return nil
}

// sessionExists tells whether the session still exists (for the reason of
// a loss); errors count as "exists" so that the reason is the milder one.
func (e *Elector) sessionExists(ctx context.Context, id string) bool {
	return hold.SessionExists(ctx, e.client, e.cfg.Datacenter, id, min(e.cfg.RequestTimeout, e.cfg.ConfirmInterval))
}

func (e *Elector) writeOpts(ctx context.Context) *api.WriteOptions {
	return (&api.WriteOptions{Datacenter: e.cfg.Datacenter}).WithContext(ctx)
}

func (e *Elector) queryOpts(ctx context.Context) *api.QueryOptions {
	return (&api.QueryOptions{Datacenter: e.cfg.Datacenter}).WithContext(ctx)
}
