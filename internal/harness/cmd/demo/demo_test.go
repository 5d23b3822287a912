package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/consulelect/consulelect/internal/harness/consultest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, consultest.LeakOptions()...)
}

// The demo runs to completion (a quick variant), twice in a row, and
// tells the story: a leader, a graceful handoff, a crash failover, and
// every process stopped.
func TestDemoRunsTwice(t *testing.T) {
	consultest.Binary(t) // skips without a binary, unless the run requires one
	bin := filepath.Join(t.TempDir(), "example-service")
	// example-service is a module of its own: build it in its directory.
	if out, err := exec.Command("go", "build", "-C", "../../../../example-service", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building example-service: %v\n%s", err, out)
	}
	page := filepath.Join(t.TempDir(), "timeline.html")
	for i := 0; i < 2; i++ {
		var out bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		s := settings{service: bin, replicas: 3, observe: 300 * time.Millisecond}
		if i == 1 {
			s.timeline = page // the second run also draws its timeline
		}
		err := run(ctx, &out, s)
		cancel()
		t.Logf("run %d:\n%s", i+1, out.String())
		if err != nil {
			t.Fatalf("run %d: %v", i+1, err)
		}
		for _, want := range []*regexp.Regexp{
			regexp.MustCompile(`replica-\d leads \(fencing token \d+\)`),
			regexp.MustCompile(`graceful handoff \d+(\.\d+)?m?s after the SIGTERM`),
			regexp.MustCompile(`crash failover \d+(\.\d+)?m?s after the SIGKILL`),
			regexp.MustCompile(`stopped every process the demo started`),
		} {
			if !want.MatchString(out.String()) {
				t.Errorf("run %d: output lacks %v", i+1, want)
			}
		}
		if strings.Count(out.String(), "fenced record(s)") < 2 {
			t.Errorf("run %d: no ledger summaries", i+1)
		}
	}
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	html := string(b)
	for want, n := range map[string]int{`class="lane"`: 3, `<g class="fault k-`: 2, `class="term"`: 3, `class="accepted"`: 2, `class="lockdelay"`: 1} {
		if got := strings.Count(html, want); got < n {
			t.Errorf("timeline has %d %s, want at least %d", got, want, n)
		}
	}
}
