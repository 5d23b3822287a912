// Package lifecycle supervises leader-only workers: long-running
// functions that must run while this process leads, and only then. It
// knows nothing of Consul or of the elector: a term is a context, and a
// Supervisor's Run is meant to be (part of) the elector's leader function.
//
// # Contract
//
// Run starts every worker in a goroutine of its own with a child of its
// ctx, and returns once the term is over for all of them:
//
//   - A worker that returns nil is done for this Run; it is not restarted.
//   - A worker that returns an error, or panics (recovered and logged with
//     its stack), while ctx lives is restarted after a backoff under
//     RestartOnError (the default); under ResignOnError Run cancels the
//     other workers, waits for them, and returns an error wrapping
//     ErrWorkerFailed that names the worker, so that the elector gives the
//     term up. A backoff that returns backoff.Stop also fails the worker.
//   - When ctx ends every worker sees its ctx done, and Run waits for all of
//     them up to the grace period, measured from the end of ctx. If they
//     all return, Run returns nil (the caller knows that ctx ended). If
//     some still run after the grace period, Run logs each by name (Error,
//     key "worker") and returns a *StragglersError naming them, joined
//     with the failure under ResignOnError (errors.As finds it either way).
//   - If every worker returns nil while ctx lives, Run returns nil at once.
//
// # Stragglers
//
// A *StragglersError matches ErrStragglers and carries the elector's
// protocol for leader work that returns while parts of it still run:
//
//	interface { error; Stragglers() []string; Done() <-chan struct{} }
//
// Stragglers names the workers still running when Run returned (a
// snapshot; the Supervisor's Stragglers method is the live list). Done is
// closed once every one of them has returned: its Run returned, its
// goroutine ended, and it has left the Supervisor's Stragglers and
// Running. That includes a straggler of an earlier Run that a later Run
// reports again. The elector (package leader) keeps the key and its
// session while Done is open, reports the names as stuck, and releases
// the key only once Done is closed: a straggler may still write, so no
// other replica may lead before it has stopped. A straggler that never
// returns therefore keeps the key held until the process ends.
//
// A StragglersError not made by Run (a literal) has nothing to wait for:
// its Done returns a closed channel.
//
// # Goroutines
//
// Run waits for every goroutine it starts, except those of stragglers:
// those are stuck in the worker's own code, which the Supervisor cannot
// stop. They are not abandoned: when a straggler returns, its goroutine
// ends, it leaves Stragglers and Running, and it touches nothing but the
// Supervisor's own synchronised state. When Run returns a
// *StragglersError, one more goroutine waits for the stragglers it names
// and closes its Done: it ends when the last of them has returned (its
// last act is closing Done), so it lives exactly as long as they do. No
// other goroutine of the Supervisor outlives Run; once Done is closed,
// none of those goroutines remains (but for their final return).
//
// A worker never runs twice at once: if a straggler of an earlier Run
// still runs when Run is called again, that worker is started only after
// the straggler returns (logged), and a Run that ends while a straggler
// still runs reports it again. Run may be called again after it returned,
// for the next term, but not concurrently (ErrAlreadyRunning).
package lifecycle
