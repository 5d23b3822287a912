package main

import (
	"bytes"
	"context"
	"regexp"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/consulelect/consulelect/internal/harness/consultest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, consultest.LeakOptions()...)
}

// The demo runs to completion with 24 keys and tells the story: priority
// handoffs with a gap in milliseconds, a crash failover, the rebalances
// with the keys moved, everything stopped, and no overlapping terms.
func TestDemoTellsTheStory(t *testing.T) {
	consultest.Binary(t) // skips without a binary, unless the run requires one
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := run(ctx, &out, settings{keys: 24, window: time.Second})
	t.Logf("output:\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`prio-2 \(priority 2\) leads \d+\.\d+s after it started, why: "handed over by prio-1 \(priority\)"; handoff gap \d+\.\d ms`),
		regexp.MustCompile(`prio-3 \(priority 3\) leads \d+\.\d+s after it started, why: "handed over by prio-2 \(priority\)"; handoff gap \d+\.\d ms`),
		regexp.MustCompile(`prio-2 leads: crash failover \d+\.\d+s after the cut-off`),
		regexp.MustCompile(`prio-3 leads again \d+\.\d+s after it came back, handoff gap \d+\.\d ms`),
		regexp.MustCompile(`3 replicas started: each leads at most ⌈24/3⌉ = 8 keys \d+\.\d+s later \(replica-1 8, replica-2 8, replica-3 8;`),
		regexp.MustCompile(`each of the 4 leads at most ⌈24/4⌉ = 6 keys \d+\.\d+s after replica-4 joined \(.*\); \d+ keys? moved by handoff \(the fewest possible: 6\)`),
		regexp.MustCompile(`the other 3 lead at most ⌈24/3⌉ = 8 keys each \d+\.\d+s after the cut-off`),
		regexp.MustCompile(`stopped everything the demo started`),
		regexp.MustCompile(`no key had two leaders at once: \d+ terms on 25 keys`),
	} {
		if !want.MatchString(out.String()) {
			t.Errorf("output lacks %v", want)
		}
	}
}
