package leadertest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"go.uber.org/goleak"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/leader"
	"github.com/consulelect/consulelect/leader/leadertest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, consultest.LeakOptions()...) }

func TestFake(t *testing.T) {
	ctx := context.Background()
	stuck := make(chan struct{})
	defer close(stuck)
	calls := 0
	f := leadertest.NewFake("k", func(ctx context.Context, term *leader.Term) error {
		calls++
		switch calls {
		case 1: // well behaved
			if leader.TermFromContext(ctx) != term || term.Key() != "k" || term.Session() == "" {
				t.Error("the term is not in its context")
			}
			<-ctx.Done()
			return nil
		case 2: // fails during the term
			return errors.New("boom")
		default: // ignores its context
			<-stuck
			return nil
		}
	})
	if err := f.Demote(ctx, leader.ErrStopped); !errors.Is(err, leader.ErrNotLeader) {
		t.Errorf("Demote without a term: %v", err)
	}
	t1, err := f.Elect()
	if err != nil || t1.Token() != 1 {
		t.Fatalf("Elect: %v, token %d", err, t1.Token())
	}
	if _, err := f.Elect(); !errors.Is(err, leadertest.ErrLeading) {
		t.Errorf("a second Elect: %v, want ErrLeading", err)
	}
	if f.Term() != t1 {
		t.Error("Term is not the active term")
	}
	if err := f.Demote(ctx, consulelect.ErrKeyDeleted); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(t1.Reason(), consulelect.ErrKeyDeleted) || !errors.Is(t1.Reason(), consulelect.ErrLockLost) || f.Term() != nil {
		t.Errorf("reason %v: want ErrKeyDeleted matching ErrLockLost, and no active term", t1.Reason())
	}

	t2, _ := f.Elect()
	if err := f.Wait(ctx); err == nil || err.Error() != "boom" {
		t.Errorf("Wait: %v, want the work's error", err)
	}
	<-t2.Done()
	if !errors.Is(t2.Reason(), leader.ErrLeaderWorkFailed) || t2.Token() != 2 {
		t.Errorf("failed work: reason %v token %d", t2.Reason(), t2.Token())
	}

	if _, err := f.Elect(); err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := f.Demote(sctx, consulelect.ErrConsulUnreachable); !errors.Is(err, leader.ErrLeaderWorkRunning) {
		t.Errorf("work that ignores its context: %v, want ErrLeaderWorkRunning", err)
	}
}

func TestDevAgent(t *testing.T) {
	a := leadertest.DevAgent(t)
	if _, err := a.Client().KV().Put(&api.KVPair{Key: "leadertest", Value: []byte("ok")}, nil); err != nil {
		t.Fatal(err)
	}
	reached := false
	t.Run("no binary", func(t *testing.T) {
		t.Setenv("CONSUL_BIN", "/no/such/consul")
		leadertest.DevAgent(t)
		reached = true
	})
	if reached {
		t.Error("DevAgent did not skip without a binary")
	}
}
