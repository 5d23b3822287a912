package lock_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/internal/harness/consultest"
	"github.com/consulelect/consulelect/lock"
)

// TestHelperHolder is not a test: run by TestCrashedHolder in a process
// of its own (LOCK_HELPER=mutex|semaphore), it takes the lock, prints
// "held <token>" and waits to be killed.
func TestHelperHolder(t *testing.T) {
	kind := os.Getenv("LOCK_HELPER")
	if kind == "" {
		t.Skip("run by TestCrashedHolder")
	}
	client, err := api.NewClient(api.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	s, err := lock.NewSession(client, lock.Config{Identity: "crasher"})
	if err != nil {
		t.Fatal(err)
	}
	acq := mutexOn(t, s, "crash/"+kind)
	if kind == "semaphore" {
		acq = semaphoreOn(t, s, "crash/"+kind, 1)
	}
	l, err := acq(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("held %d\n", l.Token())
	select {}
}

// A holder process killed with SIGKILL right after a check pass (the
// worst moment): the next waiter holds about CheckTTL + LockDelay later (the check goes critical, Consul invalidates
// the session; then Consul's lock-delay, or for a semaphore the pruning
// rule's wait).
func TestCrashedHolder(t *testing.T) {
	srv := devServer(t)
	for _, kind := range []string{"mutex", "semaphore"} {
		t.Run(kind, func(t *testing.T) {
			// Through a fault proxy, only to see the holder's check passes:
			// the kill comes right after one, the worst moment (the check
			// then expires a full CheckTTL later).
			proxy := consultest.NewFaultProxy(t, srv.HTTPAddr)
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHolder$")
			cmd.Env = append(os.Environ(), "LOCK_HELPER="+kind, "CONSUL_HTTP_ADDR="+proxy.Addr())
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
			held := make(chan string, 1)
			go func() {
				sc := bufio.NewScanner(out)
				for sc.Scan() {
					if strings.HasPrefix(sc.Text(), "held ") {
						held <- sc.Text()
					}
				}
			}()
			select {
			case <-held:
			case <-time.After(20 * time.Second):
				t.Fatal("the helper did not take the lock")
			}
			s := newSession(t, srv.Client(t), lock.Config{Identity: "next"})
			acq := mutexOn(t, s, "crash/"+kind)
			if kind == "semaphore" {
				acq = semaphoreOn(t, s, "crash/"+kind, 1)
			}
			got := waitHeld(t, acq, 30*time.Second)
			time.Sleep(200 * time.Millisecond)
			passes := consultest.Match{Method: "PUT", Path: "/v1/agent/check/update/"}
			n := proxy.Count(passes)
			waitFor(t, lock.DefaultCheckTTL, "a check pass of the holder", func() bool { return proxy.Count(passes) > n })
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed := time.Now()
			l := <-got
			if l == nil {
				t.FailNow()
			}
			took := l.Started().Sub(killed)
			bound := lock.DefaultCheckTTL + lock.DefaultLockDelay
			t.Logf("kill→next holder %v (CheckTTL + LockDelay = %v)", took, bound)
			if took < lock.DefaultLockDelay || took > bound+time.Second {
				t.Errorf("next holder after %v, want between LockDelay %v and CheckTTL + LockDelay + 1s", took, lock.DefaultLockDelay)
			}
			_ = l.Unlock(context.Background())
		})
	}
}
