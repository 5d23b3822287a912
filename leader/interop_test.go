package leader_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/consulelect/consulelect/internal/harness/consultest"
)

// Consul's own api.Lock and our elector exclude each other on one key, and
// the elector reports an api.Lock holder as foreign.
func TestInteropWithAPILock(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	const key = "svc/interop/.lock"
	e := startElector(t, client, cfgFor(key, "ours"))
	waitFor(t, 10*time.Second, "our elector to lead", e.IsLeader)

	lock, err := client.LockKey(key)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	stopCh := make(chan struct{})
	go func() {
		_, err := lock.Lock(stopCh)
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("api.Lock acquired while we lead (err %v)", err)
	case <-time.After(500 * time.Millisecond): // api.Lock waits: exclusion holds
	}
	if err := e.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("api.Lock: %v", err)
		}
	case <-time.After(5 * time.Second):
		close(stopCh)
		t.Fatal("api.Lock did not acquire after our release")
	}

	e2 := startElector(t, client, cfgFor(key, "ours-again"))
	waitFor(t, 5*time.Second, "e2 to see the foreign holder", func() bool {
		st := e2.Status()
		return st.Leader != nil && st.Leader.Foreign
	})
	if e2.IsLeader() {
		t.Fatal("leads while api.Lock holds the key")
	}
	if err := lock.Unlock(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "e2 to lead after api.Lock's unlock", e2.IsLeader)
	_ = lock.Destroy() // fails while we hold the key: in use; harmless
}

// The `consul lock` CLI locks <prefix>/.lock: it waits while we lead, runs
// its child once we release, and while it holds, we are followers.
func TestInteropWithConsulLockCLI(t *testing.T) {
	srv := consultest.DevServer(t, consultest.Options{})
	client := srv.Client(t)
	const prefix = "svc/cli"
	e := startElector(t, client, cfgFor(prefix+"/.lock", "ours"))
	waitFor(t, 10*time.Second, "our elector to lead", e.IsLeader)

	marker := filepath.Join(t.TempDir(), "ran")
	cmd := exec.Command(consultest.Binary(t), "lock", "-http-addr="+srv.HTTPAddr, prefix,
		"touch "+marker+" && sleep 1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
	time.Sleep(time.Second) // a window in which the CLI must not run its child
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the CLI ran its child while we lead")
	}
	e2 := startElector(t, client, cfgFor(prefix+"/.lock", "second"))
	if err := e.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the CLI's child to run", func() bool {
		_, err := os.Stat(marker)
		return err == nil
	})
	// While the CLI holds, e2 follows, seeing a foreign holder (or wins
	// the race to the release; then the CLI must be waiting instead).
	st := e2.Status()
	if e2.IsLeader() {
		t.Fatalf("we lead while the CLI's child runs")
	}
	if st.Leader != nil && !st.Leader.Foreign {
		t.Errorf("CLI holder not reported as foreign: %+v", st.Leader)
	}
	waitFor(t, 10*time.Second, "e2 to lead after the CLI finished", e2.IsLeader)
}
