package consultest

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// StartForMain starts a dev server for a package's TestMain, where no
// testing.TB exists yet (runnable Examples need an agent too), and points
// CONSUL_HTTP_ADDR at it so that examples can use api.DefaultConfig() like
// user code does. stop kills the agent and removes its files; call it after
// m.Run.
func StartForMain() (a *Agent, stop func(), err error) {
	tb, cleanup := Standalone()
	err = Catch(func() { a = DevServer(tb, Options{}) })
	if err == nil {
		err = os.Setenv("CONSUL_HTTP_ADDR", a.HTTPAddr)
	}
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	return a, func() { _ = os.Unsetenv("CONSUL_HTTP_ADDR"); cleanup() }, nil
}

// Standalone returns a testing.TB for using the harness outside tests
// (the demo, benchmarks). Its Fatalf panics; run harness calls inside
// Catch to turn that into an error. cleanup stops every agent started with
// it and removes their files.
func Standalone() (tb testing.TB, cleanup func()) {
	m := &mainTB{}
	return m, m.runCleanups
}

// Catch runs f and returns the failure that a Standalone TB's Fatalf
// raised in it, if any.
func Catch(f func()) (err error) {
	defer func() {
		if p := recover(); p != nil {
			fatal, ok := p.(mainFatal)
			if !ok {
				panic(p)
			}
			err = errors.New(string(fatal))
		}
	}()
	f()
	return nil
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

// RunMain is a TestMain for packages whose runnable examples need an
// agent: it starts one (StartForMain), runs the tests, stops the agent and
// then checks for leaked goroutines with LeakOptions. Use it as
//
//	func TestMain(m *testing.M) { os.Exit(consultest.RunMain(m)) }
func RunMain(m *testing.M) int {
	if _, err := FindBinary(); err != nil && !Required() {
		// The examples need an agent and cannot skip one by one: skip the
		// package, saying why (make test sets RequireEnv and never skips).
		fmt.Fprintf(os.Stderr, "consultest: %v: skipping this package's tests (set %s=1 to fail instead)\n", err, RequireEnv)
		return 0
	}
	_, stop, err := StartForMain()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting consul for the examples:", err)
		return 1
	}
	code := m.Run()
	stop()
	if code == 0 {
		if err := goleak.Find(LeakOptions()...); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	return code
}

// WaitFor polls cond every 5ms until it holds, failing t after timeout.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
