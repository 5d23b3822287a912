package lock

import (
	"context"
	"time"

	"github.com/consulelect/consulelect/internal/hold"
)

// lateSweeps are the pauses between the sweeps that follow a wait which
// sent a write whose answer it never had (see sweep): a minute in all. A
// write that the agent holds while it looks for a raft leader is applied
// within its rpc_hold_timeout (7s by default) or never; the later sweeps
// cover slower paths.
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
// has the turn, that round is skipped. Nothing is swept after Close.
func (s *Session) sweep(turnKey, session string, clean func(ctx context.Context, session string) error) {
	s.spawn(func() {
		ctx, done := s.bound(context.Background())
		defer done()
		for _, d := range lateSweeps {
			if !hold.Sleep(ctx, s.clock, d) {
				return
			}
			leave, err := s.takeTurn(ctx, turnKey, true)
			if err != nil {
				continue // ours in use (ErrLocked), or closed (the next sleep returns)
			}
			rctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
			if err := clean(rctx, session); err != nil {
				s.log.Debug("sweep after a late write failed; trying again later", "key", turnKey, "error", err)
			}
			cancel()
			leave()
		}
	})
}
