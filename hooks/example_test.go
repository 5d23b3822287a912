package hooks_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/consulelect/consulelect/hooks"
	"github.com/consulelect/consulelect/leader"
)

func Example() {
	hs := []hooks.Hook{
		{
			Name:  "http",
			Order: 10, // after the cache is warm
			OnElected: func(ctx context.Context, term *leader.Term) error {
				fmt.Println("http: accepting writes")
				return nil
			},
			OnDemoted: func(ctx context.Context, term *leader.Term, reason error) {
				fmt.Println("http: refusing writes:", errors.Is(reason, leader.ErrStopped))
			},
		},
		{
			Name: "cache",
			OnElected: func(ctx context.Context, term *leader.Term) error {
				fmt.Println("cache: warmed")
				return nil
			},
			OnDemoted: func(ctx context.Context, term *leader.Term, reason error) {
				fmt.Println("cache: dropped")
			},
		},
	}
	// The body is the leader-only work (typically a lifecycle Supervisor's
	// Run); here it ends the term, as a stopping elector would.
	ctx, end := context.WithCancelCause(context.Background())
	defer end(nil)
	body := func(ctx context.Context) error {
		fmt.Println("leading")
		end(leader.ErrStopped)
		return nil
	}
	lead, err := hooks.LeaderFunc(hs, body)
	if err != nil {
		fmt.Println(err)
		return
	}
	// The elector calls lead once per term, with the term's ctx; here a
	// term is simulated.
	err = lead(ctx, &leader.Term{})
	fmt.Println("term over:", err)

	// Output:
	// cache: warmed
	// http: accepting writes
	// leading
	// http: refusing writes: true
	// cache: dropped
	// term over: <nil>
}
