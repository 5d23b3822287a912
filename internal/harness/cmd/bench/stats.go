package main

import (
	"fmt"

	"github.com/consulelect/consulelect/internal/harness/durstat"
)

// sample and fmtDur are shared with the chaos harness.
type sample = durstat.Sample

var fmtDur = durstat.Format

// ratio is ours/theirs as "0.12×", or "" when either is missing.
func ratio(ours, theirs float64) string {
	if ours <= 0 || theirs <= 0 {
		return ""
	}
	return fmt.Sprintf("%.2g×", ours/theirs)
}
