package main

import (
	"cmp"
	"slices"
	"time"
)

// span is the closed interval [from, to] of CLOCK_MONOTONIC nanoseconds.
type span struct{ from, to int64 }

func (s span) dur() time.Duration { return time.Duration(max(0, s.to-s.from)) }

func (s span) empty() bool { return s.to <= s.from }

// clip returns the part of s inside by (possibly empty).
func (s span) clip(by span) span { return span{max(s.from, by.from), min(s.to, by.to)} }

// spans is a set of disjoint, non-empty spans sorted by start.
type spans []span

// normalize sorts and merges ss into a spans set.
func normalize(ss []span) spans {
	c := slices.DeleteFunc(slices.Clone(ss), span.empty)
	slices.SortFunc(c, func(a, b span) int { return cmp.Compare(a.from, b.from) })
	var out spans
	for _, s := range c {
		if n := len(out); n > 0 && s.from <= out[n-1].to {
			out[n-1].to = max(out[n-1].to, s.to)
			continue
		}
		out = append(out, s)
	}
	return out
}

// minus returns the parts of ss outside holes.
func (ss spans) minus(holes spans) spans {
	var out spans
	for _, s := range ss {
		rest := s
		for _, h := range holes {
			if h.to <= rest.from || h.from >= rest.to {
				continue
			}
			if h.from > rest.from {
				out = append(out, span{rest.from, h.from})
			}
			rest.from = max(rest.from, h.to)
			if rest.empty() {
				break
			}
		}
		if !rest.empty() {
			out = append(out, rest)
		}
	}
	return out
}

// intersect returns the parts common to ss and other.
func (ss spans) intersect(other spans) spans {
	var out []span
	for _, a := range ss {
		for _, b := range other {
			if c := a.clip(b); !c.empty() {
				out = append(out, c)
			}
		}
	}
	return normalize(out)
}

// total is the summed length of ss.
func (ss spans) total() time.Duration {
	var d time.Duration
	for _, s := range ss {
		d += s.dur()
	}
	return d
}

// longest is the longest span of ss (zero if none).
func (ss spans) longest() span {
	var l span
	for _, s := range ss {
		if s.dur() > l.dur() {
			l = s
		}
	}
	return l
}
