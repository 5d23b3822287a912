package lock

import (
	"context"
	"fmt"
)

// A turn serialises, within the process, the goroutines that want one
// key: a session can hold a key only once, so only the goroutine whose
// turn it is contends in Consul. Waiters are served in arrival order (a
// channel's blocked senders queue in order).
type turn struct {
	ch    chan struct{} // holds a token while someone has the turn
	users int           // holders and waiters; guarded by Session.mu
}

// takeTurn waits for key's turn (or fails at once with ErrLocked when try
// and another goroutine has it) and returns the function that gives it up.
func (s *Session) takeTurn(ctx context.Context, key string, try bool) (func(), error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	t := s.turns[key]
	if t == nil {
		t = &turn{ch: make(chan struct{}, 1)}
		s.turns[key] = t
	}
	t.users++
	s.mu.Unlock()
	leave := func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if t.users--; t.users == 0 {
			delete(s.turns, key)
		}
	}
	if try {
		select {
		case t.ch <- struct{}{}:
		default:
			leave()
			return nil, ErrLocked
		}
	} else {
		select {
		case t.ch <- struct{}{}:
		case <-ctx.Done():
			leave()
			return nil, ctx.Err()
		}
	}
	return func() { <-t.ch; leave() }, nil
}

// take runs contend (the wait in Consul) in the process's turn on
// turnKey, bounded by ctx and by the Session's life; what names the
// operation in errors. contend gives the turn up (leave) when it fails,
// once what it left in Consul is cleaned up: until then no other
// goroutine of the process may take the key.
func (s *Session) take(ctx context.Context, turnKey string, try bool, what string,
	contend func(ctx context.Context, try bool, leave func()) (*Held, error)) (*Held, error) {
	ctx, done := s.bound(ctx)
	defer done()
	began := s.clock.Now()
	leave, err := s.takeTurn(ctx, turnKey, try)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, closedErr(ctx, err))
	}
	l, err := contend(ctx, try, leave) // gives the turn up itself when it fails
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, closedErr(ctx, err))
	}
	s.metrics.acquired(l.key, l.token, s.clock.Now().Sub(began))
	return l, nil
}
