package leadertest_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/consulelect/consulelect"
	"github.com/consulelect/consulelect/leader"
	"github.com/consulelect/consulelect/leader/leadertest"
)

// Unit-testing leader-only code without Consul: elect, see the token,
// demote with a loss, and check that the work stopped.
func ExampleFake() {
	// readme:begin leadertest-fake
	work := func(ctx context.Context, term *leader.Term) error {
		fmt.Println("leading with token", term.Token())
		<-ctx.Done() // leader-only work until the term ends
		fmt.Println("stopped:", errors.Is(context.Cause(ctx), consulelect.ErrLockLost))
		return nil
	}
	f := leadertest.NewFake("my-service/leader", work)
	if _, err := f.Elect(); err != nil {
		log.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // readme:hide: let the work print first
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := f.Demote(ctx, consulelect.ErrSessionInvalidated); err != nil {
		log.Fatal(err) // leader.ErrLeaderWorkRunning: the work ignored its context
	}
	// readme:end

	// Output:
	// leading with token 1
	// stopped: true
}
