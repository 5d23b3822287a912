package safe

import (
	"errors"
	"strings"
	"testing"
)

func TestCall(t *testing.T) {
	boom := errors.New("boom")
	if err := Call(func() error { return boom }); err != boom {
		t.Errorf("error: %v, want boom", err)
	}
	if err := Call(func() error { return nil }); err != nil {
		t.Errorf("nil: %v", err)
	}
	err := Call(func() error { panic("oops") })
	var p *Panic
	if !errors.As(err, &p) || p.Value != "oops" || err.Error() != "panic: oops" || !strings.Contains(string(p.Stack), "safe_test.go") {
		t.Errorf("panic: %v (%+v)", err, p)
	}
}
