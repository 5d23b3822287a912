package lock_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/lock"
)

// The `consul lock` CLI (a mutex on "<prefix>/.lock") and `consul lock -n
// 2` (a semaphore on "<prefix>") and ours exclude each other: while the
// CLI's child runs ours waits (TryLock says ErrLocked) and the other way
// round.
func TestInteropWithConsulLockCLI(t *testing.T) {
	srv := devServer(t)
	client := srv.Client(t)
	s := newSession(t, client, lock.Config{Identity: "ours"})
	for _, tt := range []struct {
		name  string
		args  []string
		mine  func(ctx context.Context) (*lock.Held, error)
		limit int
	}{
		{"mutex", nil, mustMutex(t, s, "cli/m/.lock").TryLock, 1},
		{"semaphore -n 2", []string{"-n", "2"}, nil, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			prefix := "cli/m"
			if tt.mine == nil {
				prefix = "cli/s"
				sem, err := s.Semaphore(prefix, tt.limit)
				if err != nil {
					t.Fatal(err)
				}
				// Ours holds one of the two slots; the CLI takes the other.
				l, err := sem.Acquire(ctxFor(t, 10*time.Second))
				if err != nil {
					t.Fatal(err)
				}
				defer l.Unlock(context.Background())
				other := newSession(t, client, lock.Config{Identity: "other"})
				osem, _ := other.Semaphore(prefix, tt.limit)
				tt.mine = osem.TryAcquire
			}
			marker := filepath.Join(t.TempDir(), "ran")
			args := append([]string{"lock", "-http-addr=" + srv.HTTPAddr}, tt.args...)
			cmd := exec.Command(consultest.Binary(t), append(args, prefix, "touch "+marker+" && sleep 2")...)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
			waitFor(t, 10*time.Second, "the CLI's child to run", func() bool {
				_, err := os.Stat(marker)
				return err == nil
			})
			if l, err := tt.mine(ctxFor(t, 5*time.Second)); !errors.Is(err, lock.ErrLocked) {
				t.Errorf("while the CLI holds: %v, want ErrLocked", err)
				if l != nil {
					_ = l.Unlock(context.Background())
				}
			}
			select {
			case err := <-done:
				done <- err
				if err != nil {
					t.Fatalf("consul lock: %v", err)
				}
			case <-time.After(15 * time.Second):
				t.Fatal("consul lock did not finish")
			}
			var l *lock.Held
			var err error
			waitFor(t, 5*time.Second, "ours to hold after the CLI", func() bool {
				l, err = tt.mine(ctxFor(t, 5*time.Second))
				return err == nil
			})
			_ = l.Unlock(context.Background())
		})
	}
}
