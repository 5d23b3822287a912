package leader_test

import (
	"os"
	"testing"

	"github.com/consulelect/consulelect/internal/harness/consultest"
)

// TestMain starts one dev agent for the runnable examples (reached through
// CONSUL_HTTP_ADDR, as user code would); tests start their own.
func TestMain(m *testing.M) { os.Exit(consultest.RunMain(m)) }
