package leader

import (
	"context"
	"errors"
	"time"

	"github.com/consulelect/consulelect/internal/core/termhook"
)

// farFuture is a demote deadline that never comes, for terms made by
// leadertest.
const farFuture = 100 * 365 * 24 * time.Hour

func init() {
	termhook.New = func(key, session string, token uint64) (any, func(error)) {
		t := newTerm(context.Background(), realClock{}, key, session, token, time.Now(), farFuture)
		return t, func(reason error) {
			for _, how := range []error{ErrSessionInvalidated, ErrKeyReleased, ErrKeyDeleted, ErrKeyTaken} {
				if errors.Is(reason, how) && !errors.Is(reason, ErrLockLost) {
					reason = lost{reason} // as the Elector reports them: matching ErrLockLost too
				}
			}
			t.end(reason)
		}
	}
}
