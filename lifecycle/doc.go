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
//     some still run after the grace period, Run logs each by name, and
//     returns a *StragglersError naming them (it matches ErrStragglers, and
//     its Stragglers method tells the elector to let the key expire rather
//     than release it while that code may still write).
//   - If every worker returns nil while ctx lives, Run returns nil at once.
//
// # Goroutines
//
// Run waits for every goroutine it starts, except those of stragglers:
// those are stuck in the worker's own code, which the Supervisor cannot
// stop. They are not abandoned: when a straggler returns, its goroutine
// ends, it leaves Stragglers and Running, and it touches nothing but the
// Supervisor's own synchronised state. No other goroutine of the
// Supervisor outlives Run.
//
// A worker never runs twice at once: if a straggler of an earlier Run
// still runs when Run is called again, that worker is started only after
// the straggler returns (logged), and a Run that ends while a straggler
// still runs reports it again. Run may be called again after it returned,
// for the next term, but not concurrently (ErrAlreadyRunning).
package lifecycle
