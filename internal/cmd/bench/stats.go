package main

import (
	"fmt"
	"slices"
	"time"
)

// sample is a set of durations measured in repeated trials.
type sample []time.Duration

func (s sample) pct(p float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	c := slices.Clone(s)
	slices.Sort(c)
	i := int(p*float64(len(c)-1) + 0.5)
	return c[i]
}

func (s sample) p50() time.Duration { return s.pct(0.50) }
func (s sample) p99() time.Duration { return s.pct(0.99) }

// fmtDur prints a duration with 3 significant digits.
func fmtDur(d time.Duration) string {
	switch {
	case d < 0:
		return "−" + fmtDur(-d)
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

// ratio is ours/theirs as "0.12×", or "" when either is missing.
func ratio(ours, theirs float64) string {
	if ours <= 0 || theirs <= 0 {
		return ""
	}
	return fmt.Sprintf("%.2g×", ours/theirs)
}
