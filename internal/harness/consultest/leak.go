package consultest

import "go.uber.org/goleak"

// LeakOptions returns the goleak options that every package whose tests talk
// to Consul needs: they ignore the two goroutines that net/http keeps per
// idle keep-alive connection of a pooled transport (api.Client pools
// connections), one blocked in internal/poll.runtime_pollWait under
// (*persistConn).readLoop and one in (*persistConn).writeLoop. Goroutines
// of requests still in flight are not ignored. Use
//
//	goleak.VerifyTestMain(m, consultest.LeakOptions()...)
func LeakOptions() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
	}
}
