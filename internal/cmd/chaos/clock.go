package main

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// mono reads CLOCK_MONOTONIC in nanoseconds. Every ledger of a run (the
// candidates' and the harness's) is stamped with it: all processes on a
// host read the same clock, and Go's own timers (the elector's demote
// deadline included) run on it too.
func mono() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// fmtDur prints a duration with about 3 significant digits.
func fmtDur(d time.Duration) string {
	switch {
	case d < 0:
		return "-" + fmtDur(-d)
	case d == 0:
		return "0"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%.0fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
}
