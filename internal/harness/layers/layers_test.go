// Package layers checks the project's import graph against its layers:
// the core (internal/core) imports nothing of the project, the library
// (the packages users import, and the metrics adapters) stands only on
// the core and on itself, and nothing a service links pulls in the
// standard library's testing package, the harness (internal/harness) or
// the test helpers made for users (leadertest, fxmoduletest).
package layers

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/consulelect/consulelect"

// The layers, as import paths under the module. A new package must be
// named here, so that its layer is a decision.
var (
	core = []string{"internal/core/hold", "internal/core/safe", "internal/core/termhook"}
	// library is what a service links: the packages users import ("." is
	// the module's root package, what every use shares) and the internal
	// packages they stand on.
	library = []string{".", "leader", "lock", "hooks", "lifecycle", "fxmodule", "fxmodule/internal/wiring"}
	// adapters are the nested modules of the metrics adapters.
	adapters = []string{"metrics/prometheus", "metrics/otel"}
)

// deps lists the packages that pkg links, run from dir.
func deps(t *testing.T, dir, pkg string) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", pkg)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
	}
	return strings.Fields(string(out))
}

func root() string { return filepath.Join("..", "..", "..") }

// path is the import path of the package at rel ("." for the root).
func path(rel string) string {
	if rel == "." {
		return module
	}
	return module + "/" + rel
}

// check fails for each dependency of pkg that is testing or a project
// package outside allowed.
func check(t *testing.T, dir, pkg string, allowed []string) {
	t.Helper()
	ok := map[string]bool{}
	for _, a := range allowed {
		ok[path(a)] = true
	}
	for _, d := range deps(t, dir, pkg) {
		switch {
		case d == "testing" || strings.HasPrefix(d, "testing/"):
			t.Errorf("%s links %s", pkg, d)
		case (d == module || strings.HasPrefix(d, module+"/")) && !ok[d]:
			t.Errorf("%s links %s, which is not below it in the layers", pkg, d)
		}
	}
}

func TestCoreImportsNothingOfTheProject(t *testing.T) {
	for _, p := range core {
		check(t, root(), "./"+p, core)
	}
}

func TestLibraryLinksNoTestCodeNorHarness(t *testing.T) {
	below := append(append([]string{}, core...), library...)
	for _, p := range library {
		check(t, root(), "./"+p, below)
	}
	for _, a := range adapters {
		check(t, filepath.Join(root(), a), ".", append(below, a))
	}
}

// Every package of the module is in a known place: core, library, the
// CLI, the examples, the users' test helpers or the harness. A package
// elsewhere fails, so that where it stands is decided, not drifted into.
func TestEveryPackageHasALayer(t *testing.T) {
	known := append(append([]string{}, core...), library...)
	known = append(known, "cmd/consulelect", "example-shop", "leader/leadertest", "fxmodule/fxmoduletest")
	ok := map[string]bool{}
	for _, k := range known {
		ok[path(k)] = true
	}
	cmd := exec.Command("go", "list", "./...")
	cmd.Dir = root()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list ./...: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if !ok[p] && !strings.HasPrefix(p, module+"/internal/harness/") {
			t.Errorf("package %s has no layer: name it in layers_test.go", p)
		}
	}
}
