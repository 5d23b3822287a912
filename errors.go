package consulelect

import "errors"

// Reasons a hold ends, shared by a leader's term (leader.Term) and a held
// lock (lock.Held). A hold's Reason, and context.Cause of its Context, is
// one of these or one of its package's own (leader.ErrResigned,
// lock.ErrUnlocked, ...), possibly wrapped; check with errors.Is.
var (
	// ErrLockLost: the key is no longer held by the hold's session. It is
	// the cause of the hold's context, set the moment the loss is seen; the
	// hold's Reason then tells which of the four below it was (after at
	// most one Consul round trip to find out), and each of them matches
	// ErrLockLost too.
	ErrLockLost = errors.New("consulelect: lock lost")

	// ErrSessionInvalidated: Consul invalidated the session that held the
	// key (destroyed by an operator, a linked check went critical, TTL).
	// It matches ErrLockLost.
	ErrSessionInvalidated error = &loss{"consulelect: session invalidated"}

	// ErrKeyReleased: the key was released by someone else while the
	// session still existed (an operator's ?release; for a semaphore, the
	// holder was pruned). It matches ErrLockLost.
	ErrKeyReleased error = &loss{"consulelect: key released by another client"}

	// ErrKeyDeleted: the key was deleted. It matches ErrLockLost.
	ErrKeyDeleted error = &loss{"consulelect: key deleted"}

	// ErrKeyTaken: the key is held by another session. It matches
	// ErrLockLost.
	ErrKeyTaken error = &loss{"consulelect: key taken by another session"}

	// ErrConsulUnreachable: Consul did not confirm the hold before its
	// demote deadline (DemoteAfter after the last confirming request was
	// sent), so it could no longer be assumed.
	ErrConsulUnreachable = errors.New("consulelect: consul unreachable past the demote deadline")
)

// Errors that the leader and lock packages both return.
var (
	// ErrInvalidConfig wraps every configuration error of a constructor;
	// the message names the field and the rule.
	ErrInvalidConfig = errors.New("consulelect: invalid config")

	// ErrPermanent marks a Consul error that retrying will not fix (ACL
	// denied, invalid request, a key used by something that is not a
	// lock).
	ErrPermanent = errors.New("consulelect: permanent consul error")

	// ErrForeignKey: the key is used with flags of another protocol (a
	// lock key used as a semaphore, or the other way round, or by a
	// client with other flags); it is never clobbered.
	ErrForeignKey = errors.New("consulelect: key held with foreign flags")
)

// loss is one of the ways a lock is lost: it reads as itself and matches
// ErrLockLost too.
type loss struct{ msg string }

func (l *loss) Error() string { return l.msg }

func (l *loss) Is(target error) bool { return target == ErrLockLost }
