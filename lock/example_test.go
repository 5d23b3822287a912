package lock_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/lock"
)

// Take a mutex for a critical section, in plain Go. One Session serves
// every lock of the process.
func Example() {
	ctx := context.Background()
	// readme:begin lock-quick-start
	client, err := api.NewClient(api.DefaultConfig()) // CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN, TLS variables
	if err != nil {
		log.Fatal(err)
	}
	s, err := lock.NewSession(client, lock.Config{}) // one per process
	if err != nil {
		log.Fatal(err) // an invalid config names the field
	}
	defer s.Close(ctx)

	m, err := s.Mutex("billing/charge-42")
	if err != nil {
		log.Fatal(err)
	}
	l, err := m.Lock(ctx) // blocks until held, or ctx ends
	if err != nil {
		log.Fatal(err)
	}
	defer l.Unlock(ctx)
	// Work under l.Context(): it is cancelled the moment the lock is lost.
	// Pass l.Token() to what you write to, so it can refuse a stale holder.
	fmt.Println("held:", l.Context().Err() == nil, l.Token() > 0)
	// readme:end

	// Output: held: true true
}

// Do is the form most code wants: lock, run, unlock.
func ExampleSession_Do() {
	ctx := context.Background()
	client, _ := api.NewClient(api.DefaultConfig())
	s, _ := lock.NewSession(client, lock.Config{})
	defer s.Close(ctx)
	// readme:begin lock-do
	err := s.Do(ctx, "migrations/step-7", func(ctx context.Context, token uint64) error {
		// Runs on one replica at a time; ctx is cancelled if the lock is
		// lost, and Do then returns an error matching consulelect.ErrLockLost.
		fmt.Println("migrating with token", token > 0)
		return nil
	})
	// readme:end
	fmt.Println("err:", err)
	// Output:
	// migrating with token true
	// err: <nil>
}

// A semaphore admits up to N holders; TryAcquire does not wait.
func ExampleSemaphore() {
	ctx := context.Background()
	client, _ := api.NewClient(api.DefaultConfig())
	s, _ := lock.NewSession(client, lock.Config{Identity: "a"}) // this process's Session
	defer s.Close(ctx)
	b, _ := lock.NewSession(client, lock.Config{Identity: "b"}) // another process's
	defer b.Close(ctx)
	// readme:begin lock-semaphore
	sem, err := s.Semaphore("reports/workers", 1) // interoperates with `consul lock -n 1 reports/workers`
	if err != nil {
		log.Fatal(err)
	}
	slot, err := sem.Acquire(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer slot.Unlock(ctx)
	// readme:end
	other, _ := b.Semaphore("reports/workers", 1)
	tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err = other.TryAcquire(tctx)
	fmt.Println(err)
	// Output: acquire "reports/workers": lock: held by another holder
}
