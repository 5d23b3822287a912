// Package termhook lets package leader/leadertest make real leader.Terms
// without an Elector or Consul. Package leader fills New in when it is
// initialised; nothing else uses it.
package termhook

// New returns a new active *leader.Term (as any) for key, with session
// and token, and the function that ends it with a reason. It never ends
// on its own.
var New func(key, session string, token uint64) (term any, end func(reason error))
