package consultest

import (
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, LeakOptions()...)
}

func TestModuleRoot(t *testing.T) {
	root := moduleRoot()
	if root == "" {
		t.Fatal("module root not found")
	}
	if !isModuleRoot(filepath.Join(root, "go.mod")) {
		t.Fatalf("%s/go.mod is not the module's", root)
	}
	if _, err := os.Stat(filepath.Join(root, "internal", "harness", "consultest")); err != nil {
		t.Fatalf("module root %s does not hold internal/harness/consultest: %v", root, err)
	}
	if bin := Binary(t); bin == "" {
		t.Fatal("no binary")
	}
}

func TestAllocPorts(t *testing.T) {
	seen := map[int]bool{}
	for i := 0; i < 20; i++ {
		ps, err := allocPorts("127.0.0.1", true)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []int{ps.HTTP, ps.Server, ps.SerfLAN, ps.SerfWAN} {
			if seen[p] {
				t.Fatalf("port %d handed out twice", p)
			}
			seen[p] = true
		}
	}
}
