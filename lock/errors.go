package lock

import "errors"

// Reasons a held lock ends that are the lock package's own. Its Reason
// (and context.Cause of its Context) is one of these or one of the
// reasons every hold shares (consulelect.ErrLockLost and the ways of
// losing the lock that match it, consulelect.ErrConsulUnreachable),
// possibly wrapped; check with errors.Is.
var (
	// ErrUnlocked: the holder called Unlock.
	ErrUnlocked = errors.New("lock: unlocked")
	// ErrClosed: the Session was closed while the lock was held (or a Lock
	// was attempted on a closed Session).
	ErrClosed = errors.New("lock: session closed")
)

// Errors returned by the package's functions and methods, besides those
// every use shares (consulelect.ErrInvalidConfig from NewSession, Mutex
// and Semaphore, naming the field; consulelect.ErrPermanent, returned by
// Lock at once; consulelect.ErrForeignKey for a mutex key used by a
// semaphore, or the reverse, never clobbered).
var (
	// ErrLocked: TryLock found the lock held, or other waiters ahead; for
	// a semaphore, no slot free.
	ErrLocked = errors.New("lock: held by another holder")
	// ErrNotHeld: Unlock of a lock already unlocked, or lost (then the
	// error wraps the loss's reason too).
	ErrNotHeld = errors.New("lock: not held")
	// ErrLimitConflict: a semaphore's prefix is in use with another limit.
	ErrLimitConflict = errors.New("lock: semaphore limit conflict")
)
