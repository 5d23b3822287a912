package lock_test

import (
	"os"
	"testing"

	"github.com/consulelect/consulelect/internal/harness/consultest"
)

// TestMain starts one dev agent for the runnable examples (reached through
// CONSUL_HTTP_ADDR, as user code would); tests start their own. It checks
// for leaked goroutines after the run. As the helper process of
// TestCrashedHolder (LOCK_HELPER set) it uses the agent it is given.
func TestMain(m *testing.M) {
	if os.Getenv("LOCK_HELPER") != "" {
		os.Exit(m.Run())
	}
	os.Exit(consultest.RunMain(m))
}
