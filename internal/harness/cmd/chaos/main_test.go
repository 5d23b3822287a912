package main

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/consulelect/consulelect/internal/harness/consultest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, consultest.LeakOptions()...)
}
