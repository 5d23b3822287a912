package fxmodule_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/consulelect/consulelect/internal/consultest"
)

// TestMain starts one dev agent for the runnable example (reached through
// CONSUL_HTTP_ADDR, as NewConsulClient does in a service).
func TestMain(m *testing.M) {
	_, stop, err := consultest.StartForMain()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting consul for the examples:", err)
		os.Exit(1)
	}
	code := m.Run()
	stop()
	if code == 0 {
		if err := goleak.Find(consultest.LeakOptions()...); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}
