package leader

import (
	"context"
	"time"

	"github.com/consulelect/consulelect/internal/core/termhook"
)

// farFuture is a demote deadline that never comes, for terms made by
// leadertest.
const farFuture = 100 * 365 * 24 * time.Hour

func init() {
	termhook.New = func(key, session string, token uint64) (any, func(error)) {
		t := newTerm(context.Background(), realClock{}, key, session, token, time.Now(), farFuture)
		return t, func(reason error) { t.end(reason) }
	}
}
