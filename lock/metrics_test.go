package lock_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/lock"
)

// Metrics see every hold: Acquired with its token and wait (a second
// holder waits for the first), Released with the reason and duration
// (ErrUnlocked, and a loss), and a Consul error.
func TestMetrics(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	var mu sync.Mutex
	type ev struct {
		what   string
		token  uint64
		d      time.Duration
		reason error
	}
	var evs []ev
	errs := 0
	m := lock.Metrics{
		Acquired: func(key string, token uint64, waited time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			evs = append(evs, ev{"acquired", token, waited, nil})
		},
		Released: func(key string, reason error, held time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			evs = append(evs, ev{"released", 0, held, reason})
		},
		ConsulError: func(error, bool) {
			mu.Lock()
			defer mu.Unlock()
			errs++
		},
	}
	s := newSession(t, client, lock.Config{}, lock.WithMetrics(m))
	mx := mustMutex(t, s, "svc/metrics/lock")
	ctx := ctxFor(t, 30*time.Second)
	h, err := mx.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if err := h.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	h, err = mx.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Session().Destroy(h.Session(), nil); err != nil { // a loss
		t.Fatal(err)
	}
	<-h.Done()
	_ = h.Unlock(ctx)
	mu.Lock()
	defer mu.Unlock()
	if len(evs) != 4 || evs[0].what != "acquired" || evs[0].token == 0 {
		t.Fatalf("events %+v", evs)
	}
	if evs[1].what != "released" || !errors.Is(evs[1].reason, lock.ErrUnlocked) || evs[1].d < 50*time.Millisecond {
		t.Errorf("first release %+v, want ErrUnlocked after ≥ 50ms", evs[1])
	}
	if evs[2].what != "acquired" || evs[2].token <= evs[0].token || evs[2].token != h.Token() {
		t.Errorf("second acquire %+v, want token %d above %d", evs[2], h.Token(), evs[0].token)
	}
	if evs[3].what != "released" || !errors.Is(evs[3].reason, consulelect.ErrLockLost) {
		t.Errorf("second release %+v, want a loss", evs[3])
	}
}
