package lock

import (
	"context"
	"time"

	"github.com/consulelect/consulelect/internal/core/hold"
)

// lateSweeps are the pauses between the sweeps that follow a late write
// (see sweep): a minute in all, counting only the rounds that reached
// Consul. A write that the agent holds while it looks for a raft leader
// is usually applied within its rpc_hold_timeout (7s by default) or not
// at all; the later sweeps cover slower paths.
var lateSweeps = []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second}

// sweep cleans up after a late write. A wait may send an acquire, a join
// or a queue entry whose answer never comes (the request timed out, the
// agent held it); the servers can still apply it after the wait has
// ended, leaving session holding the key, a slot or a place in line that
// no goroutine of ours waits for, and others waiting behind it until the
// Session closes. So, over lateSweeps, sweep takes the process's turn on
// turnKey and runs clean (the wait's own clean-up for session: it gives
// up what session still holds there, conditioned on what it reads).
// Holding the turn, no hold or wait of ours is on the key, so whatever
// session holds there is a late write's; while another goroutine of ours
// has the turn, that round is skipped. A round that fails (Consul
// unreachable) does not count: the schedule goes on until its rounds
// have reached Consul; a permanent error (ACL denied) ends it. One sweep runs per key and session; a new late
// write starts its schedule again. Nothing is swept after Close.
func (s *Session) sweep(turnKey, session string, clean func(ctx context.Context, session string) error) {
	id := sweepID{turnKey, session}
	s.mu.Lock()
	if again, ok := s.sweeps[id]; ok {
		s.mu.Unlock()
		select {
		case again <- struct{}{}:
		default: // already told
		}
		return
	}
	again := make(chan struct{}, 1)
	s.sweeps[id] = again
	s.mu.Unlock()
	started := s.spawn(func() {
		defer func() {
			s.mu.Lock()
			delete(s.sweeps, id)
			s.mu.Unlock()
		}()
		ctx, done := s.bound(context.Background())
		defer done()
		for i := 0; i < len(lateSweeps); {
			fired, t := hold.After(s.clock, lateSweeps[i])
			select {
			case <-fired:
			case <-again:
				t.Stop()
				i = 0
				continue
			case <-ctx.Done():
				t.Stop()
				return
			}
			leave, err := s.takeTurn(ctx, turnKey, true)
			if err != nil {
				continue // ours in use (ErrLocked): try again after the same pause; or closed
			}
			rctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
			err = clean(rctx, session)
			cancel()
			leave()
			switch {
			case err != nil && isPermanent(err):
				s.log.Warn("sweep after a late write failed; giving up", "key", turnKey, "error", err)
				return
			case err != nil:
				s.log.Debug("sweep after a late write failed; trying again", "key", turnKey, "error", err)
				continue
			}
			i++
		}
	})
	if !started {
		s.mu.Lock()
		delete(s.sweeps, id)
		s.mu.Unlock()
	}
}

// sweepID names one sweep: the turn's key and the Consul session.
type sweepID struct{ turnKey, session string }
