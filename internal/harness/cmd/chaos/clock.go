package main

import "golang.org/x/sys/unix"

// mono reads CLOCK_MONOTONIC in nanoseconds. Every ledger of a run (the
// candidates' and the harness's) is stamped with it: all processes on a
// host read the same clock, and Go's own timers (the elector's demote
// deadline included) run on it too.
func mono() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}
