package hooks

import (
	"context"
	"fmt"

	"github.com/consulelect/consulelect/leader"
)

// A Hook is a pair of callbacks that a service registers to be told when
// this process starts and stops leading.
type Hook struct {
	// Name identifies the hook in logs and errors; it is required and
	// unique within a LeaderFunc.
	Name string
	// Order places the hook: OnElected hooks run by ascending Order, ties
	// in the order given to LeaderFunc; OnDemoted hooks in reverse.
	Order int
	// OnElected, if set, runs when a term starts, with a ctx that ends
	// when the term ends or at the timeout (WithTimeout). An error (or panic,
	// or overrunning the timeout) gives the term up; see the package doc.
	OnElected func(ctx context.Context, term *leader.Term) error
	// OnDemoted, if set, runs once when a term ends for which OnElected
	// succeeded (or for which the hook has no OnElected), with a ctx that
	// is not cancelled by the term's end but bounded by the hook
	// timeout, and the reason the term ended.
	OnDemoted func(ctx context.Context, term *leader.Term, reason error)
}

// validate checks the names of hooks: non-empty and unique.
func validate(hooks []Hook) error {
	seen := make(map[string]bool, len(hooks))
	for i, h := range hooks {
		switch {
		case h.Name == "":
			return fmt.Errorf("%w: hook %d has an empty Name", ErrInvalidHook, i)
		case seen[h.Name]:
			return fmt.Errorf("%w: %q is registered twice", ErrInvalidHook, h.Name)
		}
		seen[h.Name] = true
	}
	return nil
}
