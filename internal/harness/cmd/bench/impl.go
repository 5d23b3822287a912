package main

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/leader"
)

// ours starts an elector with cfg and waits until it runs; stop ends it.
func ours(client *api.Client, cfg leader.Config, opts ...leader.Option) (*leader.Elector, func()) {
	e, err := leader.New(client, cfg, opts...)
	if err != nil {
		panic(err)
	}
	if err := e.Start(); err != nil {
		panic(err)
	}
	return e, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = e.Stop(ctx)
	}
}

// waitUntil polls cond every 200µs until it holds or timeout passes.
func waitUntil(timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v", timeout)
		}
		time.Sleep(200 * time.Microsecond)
	}
	return nil
}

// apiLock is a holder or waiter of Consul's own api.Lock with defaults.
type apiLock struct {
	lock *api.Lock
	lost <-chan struct{}
	held chan time.Time // receives when Lock returns
	stop chan struct{}
	done chan struct{}
}

// lockAsync calls api.Lock's Lock in a goroutine (it blocks until held).
func lockAsync(client *api.Client, key string) *apiLock {
	l, err := client.LockOpts(&api.LockOptions{Key: key})
	if err != nil {
		panic(err)
	}
	a := &apiLock{lock: l, held: make(chan time.Time, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(a.done)
		for {
			lost, err := l.Lock(a.stop)
			if err == nil && lost != nil {
				a.lost = lost
				a.held <- time.Now()
				return
			}
			if err == nil { // stopped
				return
			}
			select { // e.g. the session could not be created yet: retry
			case <-a.stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return a
}

// waitHeld waits until Lock returned, or timeout.
func (a *apiLock) waitHeld(timeout time.Duration) error {
	select {
	case <-a.held:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("api.Lock not acquired within %v", timeout)
	}
}

// release unlocks if held, or abandons the wait, and waits for the goroutine.
func (a *apiLock) release() {
	select {
	case <-a.done:
		_ = a.lock.Unlock()
	default:
		close(a.stop)
		<-a.done
	}
	_ = a.lock.Destroy()
}
