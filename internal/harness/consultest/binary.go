package consultest

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// modulePath is the module whose root holds the cached consul binary.
const modulePath = "github.com/consulelect/consulelect"

// Binary returns the path of the consul binary to run (see FindBinary).
// It fails the test if there is none.
func Binary(t testing.TB) string {
	t.Helper()
	bin, err := FindBinary()
	if err != nil {
		if _, harness := t.(*mainTB); !harness && !Required() {
			t.Skipf("consultest: %v (set %s=1 to fail instead)", err, RequireEnv)
		}
		t.Fatalf("consultest: %v", err)
	}
	return bin
}

// RequireEnv names the environment variable that makes a missing consul
// binary fail the tests instead of skipping them. `make test` sets it: the
// project's own test run never skips a real-agent test; a plain `go test
// ./...` without a binary skips them, with a message saying how to get one.
const RequireEnv = "CONSULELECT_REQUIRE_CONSUL"

// Required reports whether RequireEnv is set.
func Required() bool { return os.Getenv(RequireEnv) != "" }

// FindBinary returns the path of the consul binary to run: $CONSUL_BIN if
// set, else <module root>/.cache/bin/consul if it exists (the module root
// is the first directory upward from the working directory holding a go.mod
// whose module line is exactly `module github.com/consulelect/consulelect`),
// else `consul` on PATH; or an error saying what to do.
func FindBinary() (string, error) {
	if env := os.Getenv("CONSUL_BIN"); env != "" {
		bin, err := exec.LookPath(env)
		if err == nil {
			bin, err = filepath.Abs(bin)
		}
		if err != nil {
			return "", fmt.Errorf("CONSUL_BIN=%s: %w (fix CONSUL_BIN; in this repository: `make consul`)", env, err)
		}
		return bin, nil
	}
	if root := moduleRoot(); root != "" {
		bin := filepath.Join(root, ".cache", "bin", "consul")
		if isExecutable(bin) {
			return bin, nil
		}
	}
	if bin, err := exec.LookPath("consul"); err == nil {
		if abs, err := filepath.Abs(bin); err == nil {
			return abs, nil
		}
	}
	return "", errors.New("no consul binary: set CONSUL_BIN, or put consul on PATH (in this repository: `make consul`)")
}

// moduleRoot returns the first directory upward from the working directory
// that holds the go.mod of modulePath, or "".
func moduleRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if isModuleRoot(filepath.Join(dir, "go.mod")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// isModuleRoot reports whether the go.mod file at path declares modulePath.
func isModuleRoot(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "module") {
			return line == "module "+modulePath
		}
	}
	return false
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
