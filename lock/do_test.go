package lock_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/lock"
)

// Do runs f under the lock and unlocks after it; when the lock is lost
// while f runs, f's ctx is cancelled and Do says so even if f returned
// nil; when f ignores its ctx, Do still waits for it (the key is not
// released under running work).
func TestDo(t *testing.T) {
	srv := devServer(t)
	client := srv.Client(t)
	s := newSession(t, client, lock.Config{Identity: "doer"})
	var token uint64
	if err := s.Do(ctxFor(t, 10*time.Second), "do/plain", func(ctx context.Context, tok uint64) error {
		token = tok
		if l := lock.HeldFromContext(ctx); l == nil || l.Token() != tok || l.Key() != "do/plain" {
			t.Errorf("HeldFromContext: %v", l)
		}
		return nil
	}); err != nil || token == 0 {
		t.Fatalf("Do: %v, token %d", err, token)
	}
	errF := errors.New("f failed")
	if err := s.Do(ctxFor(t, 10*time.Second), "do/plain", func(context.Context, uint64) error { return errF }); !errors.Is(err, errF) {
		t.Errorf("Do returned %v, want f's error", err)
	}

	// Lost while f runs, f returns nil at once: Do reports the loss.
	err := s.Do(ctxFor(t, 10*time.Second), "do/lost", func(ctx context.Context, _ uint64) error {
		if _, err := client.KV().Delete("do/lost", nil); err != nil {
			return err
		}
		<-ctx.Done()
		return nil
	})
	if !errors.Is(err, consulelect.ErrLockLost) || !errors.Is(err, consulelect.ErrKeyDeleted) {
		t.Errorf("Do after a loss: %v, want ErrKeyDeleted (an ErrLockLost)", err)
	}

	// f ignores its ctx: Do waits for it, and returns the loss.
	returned := make(chan time.Time, 1)
	start := time.Now()
	err = s.Do(ctxFor(t, 10*time.Second), "do/stubborn", func(ctx context.Context, _ uint64) error {
		_, _ = client.KV().Delete("do/stubborn", nil)
		time.Sleep(300 * time.Millisecond) // ignores ctx
		returned <- time.Now()
		return nil
	})
	if !errors.Is(err, consulelect.ErrLockLost) {
		t.Errorf("Do with a stubborn f: %v, want ErrLockLost", err)
	}
	if at := <-returned; time.Since(start) < at.Sub(start) {
		t.Error("Do returned before f")
	}
}

// Bad config is refused at construction, naming the field.
func TestConfigValidation(t *testing.T) {
	srv := devServer(t)
	client := srv.Client(t)
	tests := []struct {
		name  string
		cfg   lock.Config
		field string
	}{
		{"negative", lock.Config{CheckTTL: -time.Second}, "CheckTTL"},
		{"margin", lock.Config{LockDelay: 2 * time.Second, DemoteAfter: 2 * time.Second}, "LockDelay"},
		{"confirm too slow", lock.Config{ConfirmInterval: time.Second}, "ConfirmInterval"},
		{"short wait", lock.Config{WaitTime: 10 * time.Millisecond}, "WaitTime"},
		{"service name", lock.Config{ServiceName: "a b"}, "ServiceName"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := lock.NewSession(client, tt.cfg)
			if !errors.Is(err, consulelect.ErrInvalidConfig) || !strings.Contains(err.Error(), tt.field) {
				t.Errorf("NewSession: %v, want ErrInvalidConfig naming %s", err, tt.field)
			}
		})
	}
	s := newSession(t, client, lock.Config{})
	for _, key := range []string{"", "/a", "a/", "a?b"} {
		if _, err := s.Mutex(key); !errors.Is(err, consulelect.ErrInvalidConfig) {
			t.Errorf("Mutex(%q): %v, want ErrInvalidConfig", key, err)
		}
	}
	if _, err := s.Semaphore("p", 0); !errors.Is(err, consulelect.ErrInvalidConfig) || !strings.Contains(err.Error(), "limit") {
		t.Errorf("Semaphore limit 0: %v", err)
	}
	if err := s.Do(ctxFor(t, time.Second), "do/nil", nil); !errors.Is(err, consulelect.ErrInvalidConfig) {
		t.Errorf("Do with a nil function: %v, want ErrInvalidConfig", err) // it used to panic
	}
	if _, err := lock.NewSession(nil, lock.Config{}); !errors.Is(err, consulelect.ErrInvalidConfig) {
		t.Errorf("nil client: %v", err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(context.Background()); !errors.Is(err, lock.ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
	m, _ := s.Mutex("closed/key")
	if _, err := m.Lock(ctxFor(t, time.Second)); !errors.Is(err, lock.ErrClosed) {
		t.Errorf("Lock on a closed session: %v, want ErrClosed", err)
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && (s[:len(sub)] == sub || contains(s[1:], sub)))
}

// Close ends a Lock that is still waiting, with ErrClosed, at once.
func TestCloseEndsWaitingLocks(t *testing.T) {
	srv := devServer(t)
	a := newSession(t, srv.Client(t), lock.Config{Identity: "a"})
	l, err := mustMutex(t, a, "close/wait").Lock(ctxFor(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock(context.Background())
	b, err := lock.NewSession(srv.Client(t), lock.Config{Identity: "b"})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		_, err := mustMutex(t, b, "close/wait").Lock(context.Background()) // no deadline
		got <- err
	}()
	time.Sleep(300 * time.Millisecond)
	if err := b.Close(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if !errors.Is(err, lock.ErrClosed) {
			t.Errorf("waiting Lock after Close: %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a waiting Lock did not end with Close")
	}
}
