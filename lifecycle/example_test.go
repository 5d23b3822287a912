package lifecycle_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/consulelect/consulelect/lifecycle"
)

func Example() {
	// The term: the elector passes its ctx to Run; here it is simulated.
	term, endTerm := context.WithCancel(context.Background())
	defer endTerm()

	migrated := make(chan struct{})
	attempts := 0
	migrator := lifecycle.WorkerFunc("migrator", func(ctx context.Context) error {
		attempts++
		if attempts == 1 {
			fmt.Println("migrator: attempt 1 failed")
			return errors.New("database busy") // restarted after a backoff
		}
		fmt.Println("migrator: done") // nil: not restarted
		close(migrated)
		return nil
	})
	compactor := lifecycle.WorkerFunc("compactor", func(ctx context.Context) error {
		<-migrated
		fmt.Println("compactor: running; the term ends")
		endTerm()
		<-ctx.Done()
		fmt.Println("compactor: stopped")
		return ctx.Err()
	})

	sup, err := lifecycle.NewSupervisor([]lifecycle.Worker{migrator, compactor},
		lifecycle.WithGrace(5*time.Second),
		lifecycle.WithBackoff(func() backoff.BackOff { return backoff.NewConstantBackOff(time.Millisecond) }))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("Run:", sup.Run(term))

	// Output:
	// migrator: attempt 1 failed
	// migrator: done
	// compactor: running; the term ends
	// compactor: stopped
	// Run: <nil>
}
