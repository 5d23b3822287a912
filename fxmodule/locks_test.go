package fxmodule_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/fxmodule"
	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/lock"
)

// Locks gives the app one lock session: a lock held when the app stops is
// cancelled with ErrClosed and the session is closed; a bad config fails
// the app, naming the field.
func TestLocks(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	var s *lock.Session
	var acquired atomic.Int32
	app := fxtest.New(t,
		fx.Supply(srv.Client(t)),
		fx.Supply(lock.Metrics{Acquired: func(string, uint64, time.Duration) { acquired.Add(1) }}), // the graph's metrics are used
		fxmodule.Locks(lock.Config{Identity: "app"}),
		fx.Populate(&s),
	)
	app.RequireStart()
	m, err := s.Mutex("fx/locks")
	if err != nil {
		t.Fatal(err)
	}
	l, err := m.Lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if acquired.Load() != 1 {
		t.Errorf("the graph's lock.Metrics saw %d acquires, want 1", acquired.Load())
	}
	unlocked := make(chan error, 1)
	go func() {
		<-l.Done() // the holder stops when told, then unlocks
		unlocked <- l.Unlock(context.Background())
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := app.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(l.Reason(), lock.ErrClosed) {
		t.Errorf("reason %v, want ErrClosed", l.Reason())
	}
	if err := <-unlocked; !errors.Is(err, lock.ErrNotHeld) {
		t.Errorf("Unlock after the stop: %v", err)
	}
	if pair, _, _ := srv.Client(t).KV().Get("fx/locks", nil); pair != nil && pair.Session != "" {
		t.Errorf("key still held by %s after the stop", pair.Session)
	}
	if _, err := m.Lock(context.Background()); !errors.Is(err, lock.ErrClosed) {
		t.Errorf("Lock after the stop: %v, want ErrClosed", err)
	}

	bad := fx.New(fx.Supply(srv.Client(t)), fxmodule.Locks(lock.Config{CheckTTL: time.Millisecond}),
		fx.Invoke(func(*lock.Session) {}), fx.NopLogger)
	if err := bad.Err(); !errors.Is(err, consulelect.ErrInvalidConfig) || !strings.Contains(err.Error(), "CheckTTL") {
		t.Errorf("bad config: %v, want ErrInvalidConfig naming CheckTTL", err)
	}
}
