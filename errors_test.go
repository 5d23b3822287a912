package consulelect_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/consulelect/consulelect"
)

func TestLossesMatchErrLockLost(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		lost bool
	}{
		{"session invalidated", consulelect.ErrSessionInvalidated, true},
		{"key released", consulelect.ErrKeyReleased, true},
		{"key deleted", consulelect.ErrKeyDeleted, true},
		{"key taken", consulelect.ErrKeyTaken, true},
		{"wrapped", fmt.Errorf("lock %q: %w", "k", consulelect.ErrKeyTaken), true},
		{"lock lost itself", consulelect.ErrLockLost, true},
		{"consul unreachable", consulelect.ErrConsulUnreachable, false},
		{"permanent", consulelect.ErrPermanent, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := errors.Is(tc.err, consulelect.ErrLockLost); got != tc.lost {
				t.Errorf("errors.Is(%v, ErrLockLost) = %v, want %v", tc.err, got, tc.lost)
			}
		})
	}
	// Each way of losing the lock is itself and no other.
	ways := []error{consulelect.ErrSessionInvalidated, consulelect.ErrKeyReleased, consulelect.ErrKeyDeleted, consulelect.ErrKeyTaken}
	for i, a := range ways {
		for j, b := range ways {
			if errors.Is(a, b) != (i == j) {
				t.Errorf("errors.Is(%v, %v) = %v", a, b, !(i == j))
			}
		}
	}
}

// A hold's reason tells how the lock was lost and is also ErrLockLost,
// whether a leader's term or a held lock reported it.
func ExampleErrLockLost() {
	reason := fmt.Errorf("term on %q: %w", "svc/leader", consulelect.ErrSessionInvalidated)
	fmt.Println(errors.Is(reason, consulelect.ErrLockLost), errors.Is(reason, consulelect.ErrSessionInvalidated))
	fmt.Println(reason)
	// Output:
	// true true
	// term on "svc/leader": consulelect: session invalidated
}
