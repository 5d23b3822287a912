package lock

import (
	"context"
	"errors"
	"fmt"
)

// Do takes the mutex on key, runs f under the held lock's context (with
// its fencing token), waits for f to return and unlocks. If the lock is
// lost while f runs, f's context is cancelled and Do returns an error
// matching the loss's reason (consulelect.ErrLockLost, consulelect.ErrConsulUnreachable, ...)
// even if f returned nil, joined with f's own error if any. Otherwise Do
// returns f's error, or Lock's when the lock was never held. A panic in f
// unlocks and propagates. HeldFromContext(ctx) in f gives the held lock
// (its Session, for a check-session guard).
func (s *Session) Do(ctx context.Context, key string, f func(ctx context.Context, token uint64) error) (err error) {
	if f == nil {
		return bad("Do %q: nil function", key)
	}
	m, err := s.Mutex(key)
	if err != nil {
		return err
	}
	l, err := m.Lock(ctx)
	if err != nil {
		return err
	}
	defer func() {
		lostBefore := l.Context().Err() != nil
		uerr := l.Unlock(context.WithoutCancel(ctx))
		switch {
		case lostBefore:
			err = errors.Join(fmt.Errorf("lock %q lost while held: %w", key, l.Reason()), err)
		case err == nil && uerr != nil:
			err = uerr
		}
	}()
	return f(l.Context(), l.Token())
}
