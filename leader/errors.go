package leader

import "errors"

// Reasons a term ends. A term's Reason (and context.Cause of its Context)
// is one of these, possibly wrapped; check with errors.Is.
var (
	// ErrStopped: the elector was stopped (Stop, or Run's ctx ended).
	ErrStopped = errors.New("leader: elector stopped")
	// ErrResigned: the owner gave up leadership with Resign.
	ErrResigned = errors.New("leader: resigned")
	// ErrLeaderWorkFailed: the leader function returned an error (or
	// panicked) while the term was active, so the term was resigned.
	ErrLeaderWorkFailed = errors.New("leader: leader work failed")
	// ErrHandedOff: the leader handed leadership over to another candidate:
	// one that ranks above it (Config.Priority, Config.PreferVersion), the
	// one an operator named (Elector.HandOff, RequestHandOff), or a less
	// loaded replica of a balancing Group. The key was released naming that
	// candidate, which tries it first (the others 250ms later).
	ErrHandedOff = errors.New("leader: handed off")
	// ErrLockLost: the key is no longer held by the term's session. It is
	// the cause of the term's context, set the moment the loss is seen; the
	// term's Reason then tells which of the four below it was, and each of
	// them matches ErrLockLost too.
	ErrLockLost = errors.New("leader: lock lost")
	// ErrSessionInvalidated: Consul invalidated the session that held the
	// key (destroyed by an operator, a linked check went critical, TTL).
	ErrSessionInvalidated = errors.New("leader: session invalidated")
	// ErrKeyReleased: the key was released by someone else while this
	// session still existed (an operator's ?release).
	ErrKeyReleased = errors.New("leader: key released by another client")
	// ErrKeyDeleted: the key was deleted.
	ErrKeyDeleted = errors.New("leader: key deleted")
	// ErrKeyTaken: the key is held by another session.
	ErrKeyTaken = errors.New("leader: key taken by another session")
	// ErrConsulUnreachable: Consul did not confirm the lock before the
	// demote deadline (DemoteAfter after the last confirming request was
	// sent), so leadership could no longer be assumed.
	ErrConsulUnreachable = errors.New("leader: consul unreachable past the demote deadline")
)

// Errors returned by the Elector's methods or recorded in Status.LastError.
var (
	// ErrInvalidConfig wraps every configuration error from New.
	ErrInvalidConfig = errors.New("leader: invalid config")
	// ErrAlreadyRunning: Run or Start was called on a running elector.
	ErrAlreadyRunning = errors.New("leader: elector already running")
	// ErrNotRunning: Stop was called on an elector that is not running.
	ErrNotRunning = errors.New("leader: elector not running")
	// ErrNotLeader: Resign was called while not leading.
	ErrNotLeader = errors.New("leader: not the leader")
	// ErrPermanent marks a Consul error that retrying will not fix (ACL
	// denied, invalid request, a key used by something that is not a lock).
	// The elector keeps retrying, slowly, so that an operator's fix is
	// picked up, and reports the error in Status and logs.
	ErrPermanent = errors.New("leader: permanent consul error")
	// ErrForeignKey: the key is used with flags of another protocol (not
	// api.LockFlagValue), for instance as a semaphore; it is never clobbered.
	ErrForeignKey = errors.New("leader: key held with foreign flags")
	// ErrLeaderWorkRunning: the stop context ended while leader work still
	// ran, so the key was not released (it expires instead; see Stop).
	ErrLeaderWorkRunning = errors.New("leader: leader work still running")
)

// errSessionGone: Consul no longer knows the session (while following).
var errSessionGone = errors.New("leader: session no longer exists")

// lost marks one of the ways a lock is lost (ErrSessionInvalidated,
// ErrKeyReleased, ErrKeyDeleted, ErrKeyTaken) as an ErrLockLost.
type lost struct{ how error }

func (l lost) Error() string { return l.how.Error() }

func (l lost) Unwrap() error { return l.how }

func (l lost) Is(target error) bool { return target == ErrLockLost }
