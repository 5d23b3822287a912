package durstat

import (
	"testing"
	"time"
)

func TestSample(t *testing.T) {
	s := Sample{5 * time.Millisecond, time.Millisecond, 3 * time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond}
	if got := s.P50(); got != 3*time.Millisecond {
		t.Errorf("P50 = %v, want 3ms", got)
	}
	if got := s.Max(); got != 5*time.Millisecond {
		t.Errorf("Max = %v, want 5ms", got)
	}
	if got := (Sample{}).P99(); got != 0 {
		t.Errorf("P99 of empty = %v, want 0", got)
	}
	if s[0] != 5*time.Millisecond {
		t.Error("Pct sorted the sample in place")
	}
}

func TestFormat(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0", 420 * time.Microsecond: "420µs", 2600 * time.Microsecond: "2.60ms",
		489 * time.Millisecond: "489ms", 4500 * time.Millisecond: "4.50s", -1490 * time.Millisecond: "−1.49s",
	} {
		if got := Format(d); got != want {
			t.Errorf("Format(%v) = %q, want %q", d, got, want)
		}
	}
}
