package consultest

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

// StartForMain starts a dev server for a package's TestMain, where no
// testing.TB exists yet (runnable Examples need an agent too), and points
// CONSUL_HTTP_ADDR at it so that examples can use api.DefaultConfig() like
// user code does. stop kills the agent and removes its files; call it after
// m.Run.
func StartForMain() (a *Agent, stop func(), err error) {
	tb := &mainTB{}
	defer func() {
		if p := recover(); p != nil {
			if f, ok := p.(mainFatal); ok {
				tb.runCleanups()
				a, stop, err = nil, nil, fmt.Errorf("%s", string(f))
				return
			}
			panic(p)
		}
	}()
	a = DevServer(tb, Options{})
	if err := os.Setenv("CONSUL_HTTP_ADDR", a.HTTPAddr); err != nil {
		tb.runCleanups()
		return nil, nil, err
	}
	return a, func() { _ = os.Unsetenv("CONSUL_HTTP_ADDR"); tb.runCleanups() }, nil
}

// mainTB is the part of testing.TB the harness uses, outside a test.
// Calling any other method panics (the embedded interface is nil).
type mainTB struct {
	testing.TB
	mu       sync.Mutex
	cleanups []func()
}

type mainFatal string

func (m *mainTB) Helper()                   {}
func (m *mainTB) Failed() bool              { return false }
func (m *mainTB) Logf(string, ...any)       {}
func (m *mainTB) Errorf(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }
func (m *mainTB) Fatalf(f string, a ...any) { panic(mainFatal(fmt.Sprintf(f, a...))) }

func (m *mainTB) Cleanup(f func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cleanups = append(m.cleanups, f)
}

func (m *mainTB) TempDir() string {
	dir, err := os.MkdirTemp("", "consultest")
	if err != nil {
		m.Fatalf("consultest: %v", err)
	}
	m.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func (m *mainTB) runCleanups() {
	m.mu.Lock()
	fs := m.cleanups
	m.cleanups = nil
	m.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}
