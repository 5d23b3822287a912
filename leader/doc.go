// Package leader runs leader election inside a process on HashiCorp Consul:
// an Elector campaigns for one KV key with a Consul session and tells its
// owner, precisely and promptly, when it leads and when it no longer does.
//
// # Contract
//
// While the timing assumptions below hold, at most one Elector on a key
// has an active Term at any moment, and a Term's Context is cancelled no
// later than the moment any other candidate could acquire the key. Each
// Term carries a fencing Token (the key's ModifyIndex after the acquire)
// that strictly increases across terms on the key, even if the key is
// deleted in between; systems written to by leader work should reject
// writes that carry an older token than they have seen.
//
// What is not guaranteed: a process that is paused (SIGSTOP, a VM freeze,
// a stop-the-world stall) longer than DemoteAfter cannot react to anything,
// and its code keeps running for a moment after it resumes: only the
// fencing token protects writes then. An operator who deletes or releases
// the key bypasses Consul's lock-delay; the elector notices within one
// blocking-query round trip, but until then two processes may believe they
// lead.
//
// # How it holds
//
// A Term ends (its Context is cancelled) at the latest DemoteAfter after the
// send time of the last request on which the Consul leader confirmed, with a
// consistent read, that our session holds the key. Consul can only hand the
// key to someone else after invalidating that session, which it does no
// earlier than that request, and after which it refuses every acquire for
// LockDelay. So with
//
//	LockDelay - DemoteAfter >= max(MinSafetyMargin, LockDelay/10) = max(250ms, LockDelay/10)
//
// the cut-off leader's term ends before a successor can start, as long as
// clocks advance at rates within a few percent of each other and leader
// work observes the cancelled context within the margin. docs/safety.md has
// the derivation and the assumptions, including the Consul behaviour relied
// on (lock-delay is kept in server memory; sessions are invalidated by their
// linked checks at any moment; TTLs expire no earlier than the TTL).
//
// Failover after a crash is fast because the session is linked to a TTL
// service check that the process passes every CheckTTL/3 on its local agent:
// a dead process's session is invalidated CheckTTL after its last pass, and
// a follower acquires LockDelay later (defaults: 1.2s + 2.6s). A graceful stop
// or Resign releases the key before destroying the session, so a follower,
// already waiting on a blocking query, acquires within milliseconds.
//
// The leader confirms its lock every ConfirmInterval and retries a failed
// or hung confirmation ConfirmInterval/10 later on a fresh request, so it
// rides out an outage of the Consul servers of DemoteAfter -
// 1.1*ConfirmInterval - rtt (1.4s with the defaults), whenever it starts.
//
// The key is released only after the term's leader work has returned.
// Work that ignores its cancelled context therefore keeps the key (and
// every other replica out); StopTimeout after the term ended it is named in
// Status.Stragglers and Handlers().Liveness fails, so that the process gets
// restarted (ExitOnStragglers exits at once).
//
// # Use
//
// Build an Elector with New, give it leader work with WithLeaderFunc, and
// either call Run (blocks until its ctx ends) or Start and Stop (for
// lifecycle hooks). Status, IsLeader, Term and Observe tell the role and the
// current holder from any goroutine; Resign steps down.
package leader
