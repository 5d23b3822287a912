package lock_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/hashicorp/go-hclog"

	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/lock"
)

// newSession returns a session closed at the end of the test.
func newSession(t *testing.T, client *api.Client, cfg lock.Config, opts ...lock.Option) *lock.Session {
	t.Helper()
	s, err := lock.NewSession(client, cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	})
	return s
}

func mustMutex(t *testing.T, s *lock.Session, key string) *lock.Mutex {
	t.Helper()
	m, err := s.Mutex(key)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// occupancy records holds with their own timestamps (Started, and when
// the holder saw its context end or unlocked) and the most holders seen
// inside the critical section at once.
type occupancy struct {
	mu     sync.Mutex
	in     int
	max    int
	tokens []uint64
	holds  []span
}

type span struct {
	who        string
	start, end time.Time
}

func (o *occupancy) enter(token uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.in++
	o.max = max(o.max, o.in)
	o.tokens = append(o.tokens, token)
}

func (o *occupancy) leave() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.in--
}

func (o *occupancy) record(who string, start, end time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.holds = append(o.holds, span{who, start, end})
}

// checkNoOverlap fails if two recorded holds overlap in time.
func (o *occupancy) checkNoOverlap(t *testing.T, limit int) {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	for i, a := range o.holds {
		n := 1
		for j, b := range o.holds {
			if i != j && b.start.Before(a.start) && b.end.After(a.start) {
				n++
			}
		}
		if n > limit {
			t.Errorf("%d holders at %v (limit %d)", n, a.start.Format(time.StampMicro), limit)
		}
	}
}

var waitFor = consultest.WaitFor

func dbgLog(name string) lock.Option {
	return lock.WithLogger(hclog.New(&hclog.LoggerOptions{Name: name, Level: hclog.Debug}))
}

func devServer(t *testing.T) *consultest.Agent { return consultest.DevServer(t, consultest.Options{}) }

// cycle takes acq rounds times (holding each for d, counted in o) and
// sends the first error to errs.
func cycle(t *testing.T, acq func(context.Context) (*lock.Held, error), rounds int, d time.Duration, o *occupancy, errs chan<- error) {
	for range rounds {
		l, err := acq(ctxFor(t, 60*time.Second))
		if err != nil {
			errs <- err
			return
		}
		o.enter(l.Token())
		time.Sleep(d)
		o.leave()
		if err := l.Unlock(context.Background()); err != nil {
			errs <- err
			return
		}
	}
}
