// Package durstat summarises and prints measured durations for the
// project's measuring programs (bench, chaos).
package durstat

import (
	"fmt"
	"slices"
	"time"
)

// Sample is a set of durations measured in repeated trials.
type Sample []time.Duration

// Pct is the p-quantile (nearest rank); 0 for an empty sample.
func (s Sample) Pct(p float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	c := slices.Clone(s)
	slices.Sort(c)
	return c[int(p*float64(len(c)-1)+0.5)]
}

// P50 is the median.
func (s Sample) P50() time.Duration { return s.Pct(0.50) }

// P99 is the 99th percentile.
func (s Sample) P99() time.Duration { return s.Pct(0.99) }

// Max is the largest duration.
func (s Sample) Max() time.Duration { return s.Pct(1) }

// Format prints a duration with about 3 significant digits (µs, ms or s),
// negative ones with a minus sign (U+2212).
func Format(d time.Duration) string {
	switch {
	case d < 0:
		return "−" + Format(-d)
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
