// Package consulelect is what every use of consulelect shares: the
// reasons a hold (a leader's term, a held lock) ends and the errors that
// the leader and lock packages have in common, so that one errors.Is
// matches a loss whichever package reported it, and FromSlog, which gives
// the library's logs to a log/slog logger.
//
// The elector is in package leader, the mutex and the semaphore in
// package lock; docs/safety.md states what they guarantee.
package consulelect
