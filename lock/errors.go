package lock

import "errors"

// Reasons a held lock ends. Its Reason (and context.Cause of its Context)
// is one of these, possibly wrapped; check with errors.Is. The words are
// the leader package's, for the same events.
var (
	// ErrUnlocked: the holder called Unlock.
	ErrUnlocked = errors.New("lock: unlocked")
	// ErrClosed: the Session was closed while the lock was held (or a Lock
	// was attempted on a closed Session).
	ErrClosed = errors.New("lock: session closed")
	// ErrLockLost: the lock is no longer held by this session. It is the
	// cause of the held lock's context, set the moment the loss is seen;
	// Reason then tells which of the four below it was, and each of them
	// matches ErrLockLost too.
	ErrLockLost = errors.New("lock: lock lost")
	// ErrSessionInvalidated: Consul invalidated the session (destroyed by
	// an operator, its check went critical).
	ErrSessionInvalidated = errors.New("lock: session invalidated")
	// ErrKeyReleased: the lock was released by someone else while the
	// session still existed (an operator's ?release; for a semaphore, the
	// holder was removed from the holders by another client).
	ErrKeyReleased = errors.New("lock: released by another client")
	// ErrKeyDeleted: the lock's key (for a semaphore, its contender key or
	// its .lock key) was deleted.
	ErrKeyDeleted = errors.New("lock: key deleted")
	// ErrKeyTaken: the key is held by another session.
	ErrKeyTaken = errors.New("lock: key taken by another session")
	// ErrConsulUnreachable: Consul did not confirm the lock before the
	// demote deadline (DemoteAfter after the last confirming request was
	// sent), so the lock could no longer be assumed held.
	ErrConsulUnreachable = errors.New("lock: consul unreachable past the demote deadline")
)

// Errors returned by the package's functions and methods.
var (
	// ErrInvalidConfig wraps every configuration error (NewSession,
	// Mutex, Semaphore); the message names the field.
	ErrInvalidConfig = errors.New("lock: invalid config")
	// ErrLocked: TryLock found the lock held, or other waiters ahead; for
	// a semaphore, no slot free.
	ErrLocked = errors.New("lock: held by another holder")
	// ErrNotHeld: Unlock of a lock already unlocked, or lost (then the
	// error wraps the loss's reason too).
	ErrNotHeld = errors.New("lock: not held")
	// ErrForeignKey: the key is used with flags of another protocol (a
	// mutex key used by a semaphore, or the reverse); it is never clobbered.
	ErrForeignKey = errors.New("lock: key held with foreign flags")
	// ErrLimitConflict: a semaphore's prefix is in use with another limit.
	ErrLimitConflict = errors.New("lock: semaphore limit conflict")
	// ErrPermanent marks a Consul error that retrying will not fix (ACL
	// denied, an invalid request). Lock returns it at once.
	ErrPermanent = errors.New("lock: permanent consul error")
)

// lost marks one of the ways a lock is lost as an ErrLockLost.
type lost struct{ how error }

func (l lost) Error() string { return l.how.Error() }

func (l lost) Unwrap() error { return l.how }

func (l lost) Is(target error) bool { return target == ErrLockLost }
