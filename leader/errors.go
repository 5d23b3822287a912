package leader

import "errors"

// Reasons a term ends that are the elector's own. A term's Reason (and
// context.Cause of its Context) is one of these or one of the reasons
// every hold shares (consulelect.ErrLockLost and the ways of losing the
// lock that match it, consulelect.ErrConsulUnreachable), possibly
// wrapped; check with errors.Is.
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
)

// Errors returned by the Elector's methods or recorded in
// Status.LastError, besides those every use shares
// (consulelect.ErrInvalidConfig from New; consulelect.ErrPermanent for a
// Consul error that retrying will not fix, on which the elector keeps
// retrying, slowly, so that an operator's fix is picked up, and reports it
// in Status and logs; consulelect.ErrForeignKey for a key used with the
// flags of another protocol, never clobbered).
var (
	// ErrAlreadyRunning: Run or Start was called on a running elector.
	ErrAlreadyRunning = errors.New("leader: elector already running")
	// ErrNotRunning: Stop was called on an elector that is not running.
	ErrNotRunning = errors.New("leader: elector not running")
	// ErrNotLeader: Resign was called while not leading.
	ErrNotLeader = errors.New("leader: not the leader")
	// ErrLeaderWorkRunning: the stop context ended while leader work still
	// ran, so the key was not released (it expires instead; see Stop).
	ErrLeaderWorkRunning = errors.New("leader: leader work still running")
)

// errSessionGone: Consul no longer knows the session (while following).
var errSessionGone = errors.New("leader: session no longer exists")
