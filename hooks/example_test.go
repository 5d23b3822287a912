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
				fmt.Println("http: accepting writes with token", term.Token)
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
	runner, err := hooks.NewRunner(hs)
	if err != nil {
		fmt.Println(err)
		return
	}

	// The elector calls runner.LeaderFunc(body) with the term's ctx; here a
	// term is simulated, and ends when the process stops.
	ctx, end := context.WithCancelCause(context.Background())
	defer end(nil)
	body := func(ctx context.Context) error {
		fmt.Println("leading")
		end(leader.ErrStopped)
		return nil
	}
	err = runner.LeaderFunc(body)(ctx, &leader.Term{Key: "service/leader", Token: 42})
	fmt.Println("term over:", err)

	// Output:
	// cache: warmed
	// http: accepting writes with token 42
	// leading
	// http: refusing writes: true
	// cache: dropped
	// term over: <nil>
}
