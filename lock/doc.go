// Package lock provides locks for critical sections on Consul: a Mutex
// (Lock, TryLock, and Session.Do) and a Semaphore with a limit of N
// holders, sharing one Consul session per process (Session).
//
// A held lock (Held) is a hold on Consul keys with the leader package's
// guarantees: its Context is cancelled the moment the lock is seen lost
// (session invalidated, key deleted, released or taken), and at the latest
// at its demote deadline, DemoteAfter after the send time of the newest
// consistent read that confirmed it, a timer that nothing can delay.
// Consul keeps the key from any other holder for LockDelay after the
// session is invalidated (for a semaphore, no consulelect contender prunes
// the slot before it has seen it gone for LockDelay), and LockDelay -
// DemoteAfter is at least max(250ms, LockDelay/10). So, while the
// assumptions of docs/safety.md hold (clock rates within 1%, a process
// paused for less than that margin), a holder's context is cancelled
// before another holder can acquire: at most one holder of a Mutex, at
// most N of a Semaphore. Holder code must stop when its context is done;
// for writes that must never be applied twice, pass Token (strictly
// increasing across holders) to the system written to and have it reject
// a token lower than the last it saw.
//
// What the package does not guarantee: that a holder paused longer than
// the margin (a stop-the-world pause, a frozen VM) stops in time (the
// fencing token covers that), or anything for clients of other libraries
// that share a key: api.Lock and `consul lock` exclude us and we them,
// but they do not stop on their own while their agent hangs, and
// api.Semaphore clients prune a holder the moment its session goes. An
// api.Semaphore holder whose agent hangs is never told that its session
// was invalidated: its slot is pruned and granted again, and the prefix
// has N+1 believed holders for as long as the hang lasts (ours among them
// stay within N).
//
// Waiters are served in arrival order: processes through a queue of
// entries under the key, goroutines of one process in turn within it.
package lock
