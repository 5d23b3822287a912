package leader_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/hashicorp/go-hclog"

	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/leader"
)

// ledger records every term of the electors it is attached to, with the
// elector's own timestamps (Term.Started, Term.Ended), for overlap checks.
type ledger struct {
	mu    sync.Mutex
	terms []record
	live  map[string]*leader.Term
}

type record struct {
	who            string
	token          uint64
	session        string
	started, ended time.Time
	reason         error
}

func newLedger() *ledger { return &ledger{live: map[string]*leader.Term{}} }

// work is a LeaderFunc that records the term and waits for its end.
func (l *ledger) work(who string) leader.LeaderFunc {
	return func(ctx context.Context, term *leader.Term) error {
		l.mu.Lock()
		l.live[who] = term
		l.mu.Unlock()
		<-ctx.Done()
		l.mu.Lock()
		delete(l.live, who)
		l.terms = append(l.terms, record{who, term.Token(), term.Session(), term.Started(), term.Ended(), term.Reason()})
		l.mu.Unlock()
		return nil
	}
}

// leaders returns who is leading now according to the ledger.
func (l *ledger) leaders() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for who := range l.live {
		out = append(out, who)
	}
	return out
}

func (l *ledger) ended() []record {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]record(nil), l.terms...)
}

// checkNoOverlap fails if two recorded terms overlap or tokens do not
// strictly increase in the order terms started.
func (l *ledger) checkNoOverlap(t *testing.T) {
	t.Helper()
	terms := l.ended()
	for i := 1; i < len(terms); i++ {
		prev, cur := terms[i-1], terms[i]
		if cur.started.Before(prev.ended) {
			t.Errorf("terms overlap: %s [%v] and %s started %v before it ended",
				prev.who, prev.token, cur.who, prev.ended.Sub(cur.started))
		}
		if cur.token <= prev.token {
			t.Errorf("fencing token did not increase: %s had %d, then %s got %d", prev.who, prev.token, cur.who, cur.token)
		}
	}
}

// startElector starts an elector and stops it at the end of the test.
func startElector(t *testing.T, client *api.Client, cfg leader.Config, opts ...leader.Option) *leader.Elector {
	t.Helper()
	opts = append([]leader.Option{leader.WithLogger(testLogger(t, cfg.Identity))}, opts...)
	e, err := leader.New(client, cfg, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := e.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := e.Stop(ctx); err != nil && !errors.Is(err, leader.ErrNotRunning) {
			t.Errorf("Stop %s: %v", cfg.Identity, err)
		}
	})
	return e
}

func testLogger(t *testing.T, name string) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name: name, Level: hclog.Debug, Output: testWriter{t}, TimeFormat: "15:04:05.000",
	})
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	consultest.WaitFor(t, timeout, what, cond)
}

// waitLeader waits until exactly one of electors leads and returns it.
func waitLeader(t *testing.T, timeout time.Duration, electors ...*leader.Elector) *leader.Elector {
	t.Helper()
	var got *leader.Elector
	waitFor(t, timeout, "a leader", func() bool {
		got = nil
		n := 0
		for _, e := range electors {
			if e.IsLeader() {
				got, n = e, n+1
			}
		}
		if n > 1 {
			t.Fatalf("%d electors lead at once", n)
		}
		return n == 1
	})
	return got
}

func cfgFor(key, identity string) leader.Config {
	return leader.Config{Key: key, Identity: identity}
}

func name(i int) string { return fmt.Sprintf("cand-%d", i) }

// confirmed is the send time of term's newest confirmation: its deadline
// less DemoteAfter (the tests' electors use the default).
func confirmed(term *leader.Term) time.Time {
	return term.Deadline().Add(-leader.DefaultDemoteAfter)
}

var clientWithPolicy = consultest.ClientWithPolicy
