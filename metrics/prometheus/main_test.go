package consulelectprom_test

import (
	"os"
	"testing"

	"github.com/consulelect/consulelect/internal/harness/consultest"
)

// TestMain starts one dev agent for the runnable example (reached through
// CONSUL_HTTP_ADDR, as user code would); tests start their own. It checks
// for leaked goroutines after the run.
func TestMain(m *testing.M) { os.Exit(consultest.RunMain(m)) }
