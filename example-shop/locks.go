package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/lock"
)

// A grant is one held lock as a sale sees it, whichever library took it.
type grant struct {
	ctx     context.Context // done once the holder knows the lock is lost
	session string          // the Consul session that holds the lock key
	token   uint64          // the fencing token: the lock key's ModifyIndex after the acquire
	unlock  func(ctx context.Context) error
}

// A locker takes the shop's lock, again and again, for one process.
type locker interface {
	lock(ctx context.Context) (*grant, error)
	close(ctx context.Context)
}

// ourLocker is the consulelect lock: one Session per process, a Mutex on
// the lock key.
type ourLocker struct {
	s *lock.Session
	m *lock.Mutex
}

// newOurLocker returns the consulelect lock on key for the process name.
func newOurLocker(client *api.Client, name, key string) (*ourLocker, error) {
	s, err := lock.NewSession(client, lock.Config{Identity: name, ServiceName: "example-shop"})
	if err != nil {
		return nil, err
	}
	m, err := s.Mutex(key)
	if err != nil {
		_ = s.Close(context.Background())
		return nil, err
	}
	return &ourLocker{s: s, m: m}, nil
}

// lock waits for the Mutex.
func (o *ourLocker) lock(ctx context.Context) (*grant, error) {
	h, err := o.m.Lock(ctx)
	if err != nil {
		return nil, err
	}
	// Held.Context is cancelled the moment the lock is seen lost, and at
	// the latest at its demote deadline; Token is the key's ModifyIndex
	// after the acquire; Session holds the key.
	return &grant{ctx: h.Context(), session: h.Session(), token: h.Token(), unlock: h.Unlock}, nil
}

// close releases what is held and ends the Consul session and its check.
func (o *ourLocker) close(ctx context.Context) { _ = o.s.Close(ctx) }

// apiLocker is Consul's own api.Lock with its defaults (session TTL 15s,
// lock-delay 15s), as most Go programs on Consul use it.
type apiLocker struct {
	client *api.Client
	key    string
	value  []byte // unique to this process: tells our acquire from another's
	l      *api.Lock
}

// newAPILocker returns an api.Lock on key for the process name.
func newAPILocker(client *api.Client, name, key string) (*apiLocker, error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	value := []byte(name + "-" + hex.EncodeToString(b[:]))
	l, err := client.LockOpts(&api.LockOptions{Key: key, Value: value})
	if err != nil {
		return nil, err
	}
	return &apiLocker{client: client, key: key, value: value, l: l}, nil
}

// lock waits for api.Lock, then finds its session and fencing token.
func (a *apiLocker) lock(ctx context.Context) (*grant, error) {
	stopCh := make(chan struct{})
	stop := context.AfterFunc(ctx, func() { close(stopCh) })
	lostCh, err := a.l.Lock(stopCh)
	stop()
	switch {
	case err != nil:
		return nil, err
	case lostCh == nil:
		return nil, ctx.Err()
	}
	// api.Lock does not tell its session or the index of its acquire; the
	// key does, while we hold it (and our unique value says it is ours).
	pair, _, err := a.client.KV().Get(a.key, (&api.QueryOptions{RequireConsistent: true}).WithContext(ctx))
	if err == nil && (pair == nil || pair.Session == "" || !bytes.Equal(pair.Value, a.value)) {
		err = errors.New("api.Lock: lock lost right after the acquire")
	}
	if err != nil {
		_ = a.l.Unlock()
		return nil, err
	}
	// lostCh is closed when api.Lock's monitor sees the key no longer held
	// by its session; the watcher turns that into a context.
	gctx, cancel := context.WithCancelCause(context.Background())
	quit, watched := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-lostCh:
			cancel(errors.New("api.Lock: lock lost"))
		case <-quit:
		}
	}()
	unlock := func(context.Context) error {
		close(quit)
		<-watched
		cancel(errors.New("api.Lock: unlocked"))
		if err := a.l.Unlock(); err != nil && !errors.Is(err, api.ErrLockNotHeld) {
			return err
		}
		return nil
	}
	return &grant{ctx: gctx, session: pair.Session, token: pair.ModifyIndex, unlock: unlock}, nil
}

// close has nothing to do: Unlock released the key and ended the session
// (api.Lock destroys it from its renewer goroutine).
func (a *apiLocker) close(context.Context) {}

// implName names an implementation for a person.
func implName(impl string) string {
	switch impl {
	case "ours":
		return "consulelect lock"
	case "apilock":
		return "api.Lock"
	}
	return fmt.Sprintf("%q", impl)
}
