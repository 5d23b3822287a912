package lock_test

import (
	"context"
	"testing"
	"time"

	"github.com/consulelect/consulelect/internal/consultest"
	"github.com/consulelect/consulelect/lock"
)

// The session carries the default TTL and is renewed: a lock held for
// longer than 2*SessionTTL (when Consul expires an unrenewed session) is
// still held, by a session that Consul still knows with that TTL.
func TestSessionTTLIsRenewed(t *testing.T) {
	t.Parallel()
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	s, err := lock.NewSession(client, lock.Config{Identity: "ttl"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	m, err := s.Mutex("svc/ttl")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	held, err := m.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	se, _, err := client.Session().Info(held.Session(), nil)
	if err != nil || se == nil || se.TTL != lock.DefaultSessionTTL.String() {
		t.Fatalf("session %+v (%v), want TTL %v", se, err, lock.DefaultSessionTTL)
	}
	select {
	case <-held.Done():
		t.Fatalf("lost the lock while idle: %v", held.Reason())
	case <-time.After(2*lock.DefaultSessionTTL + 2*time.Second):
	}
	if se, _, err := client.Session().Info(held.Session(), nil); err != nil || se == nil {
		t.Fatalf("session gone after 2*SessionTTL: %v", err)
	}
	if err := held.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
}

// A negative SessionTTL creates sessions without a TTL.
func TestNegativeSessionTTLMeansNone(t *testing.T) {
	t.Parallel()
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	s, err := lock.NewSession(client, lock.Config{Identity: "nottl", SessionTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	m, _ := s.Mutex("svc/nottl")
	held, err := m.Lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	se, _, err := client.Session().Info(held.Session(), nil)
	if err != nil || se == nil || se.TTL != "" {
		t.Fatalf("session %+v (%v), want no TTL", se, err)
	}
	_ = held.Unlock(context.Background())
	if _, err := lock.NewSession(client, lock.Config{SessionTTL: 5 * time.Second}); err == nil {
		t.Fatal("SessionTTL 5s accepted; Consul's minimum is 10s")
	}
}
