package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/consul/api"
)

// contendWork is the work done under the lock in each contended cycle.
const contendWork = time.Millisecond

// contenderReport is what a contender process prints at the end of its
// window, on one line after "result ".
type contenderReport struct {
	Cycles   int             `json:"cycles"`
	Acquires int64           `json:"acquires"`
	Requests int64           `json:"requests"` // to the servers
	Waits    []time.Duration `json:"waits"`
	// Held and Unlocked are, per cycle, the wall-clock times (Unix ns)
	// when Lock returned and when Unlock was called.
	Held     []int64 `json:"held"`
	Unlocked []int64 `json:"unlocked"`
}

// isLockChild tells whether impl names a contender process of the mutex
// rows.
func isLockChild(impl string) bool { return impl == "lock-ours" || impl == "lock-apilock" }

// runLockChild is a contender process of the contended mutex rows: it
// prepares its lock (for "lock-ours" a lock.Session, warmed up by one
// cycle; for "lock-apilock" one api.Lock), prints "ready", waits for a
// line "go <window>" on stdin, loops Lock, work, Unlock on key for the
// window, and prints its report. It exits without waiting for a Lock still
// blocked at the end (api.Lock ignores its stop channel while parked).
func runLockChild(impl, key, addr string) error {
	cfg := api.DefaultConfig()
	cfg.Address = addr
	c := &lockCounter{key: key}
	client, err := lockClient(cfg, c)
	if err != nil {
		return err
	}
	var lockOnce lockOnceFunc
	switch impl {
	case "lock-ours":
		m, closeS, err := newMutex(client, fmt.Sprintf("contender-%d", os.Getpid()), key)
		if err != nil {
			return err
		}
		defer closeS()
		lockOnce = func(ctx context.Context) (func() error, error) {
			h, err := m.Lock(ctx)
			if err != nil {
				return nil, err
			}
			return func() error { return h.Unlock(context.WithoutCancel(ctx)) }, nil
		}
	case "lock-apilock":
		l, err := client.LockOpts(&api.LockOptions{Key: key})
		if err != nil {
			return err
		}
		lockOnce = func(ctx context.Context) (func() error, error) {
			lost, err := l.Lock(ctx.Done())
			switch {
			case err != nil:
				return nil, err
			case lost == nil:
				return nil, ctx.Err()
			}
			return l.Unlock, nil
		}
	default:
		return fmt.Errorf("unknown impl %q", impl)
	}
	return runContender(c, lockOnce, impl == "lock-ours")
}

// lockOnceFunc takes a contender's lock (or slot) once, and returns the
// function that gives it back.
type lockOnceFunc func(ctx context.Context) (unlock func() error, err error)

// runContender is a contender process once its lock is prepared: with
// warmUp one cycle first (for a lock.Session: its Consul session and
// check), then it prints "ready", waits for a line "go <window>" on stdin,
// loops lockOnce, work, unlock for the window, and prints its report (c
// counts its requests). It exits without waiting for a lockOnce still
// blocked at the end.
func runContender(c *lockCounter, lockOnce lockOnceFunc, warmUp bool) error {
	if warmUp { // create the session and its check before the window
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		unlock, err := lockOnce(ctx)
		cancel()
		if err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
		if err := unlock(); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	fmt.Println("ready")
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil {
		return fmt.Errorf("waiting for go: %w", err)
	}
	window, err := time.ParseDuration(strings.TrimSpace(strings.TrimPrefix(line, "go")))
	if err != nil {
		return fmt.Errorf("bad go line %q: %w", line, err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	var (
		mu   sync.Mutex
		rep  contenderReport
		loop = make(chan error, 1)
	)
	acquires0, requests0 := c.acquires.Load(), c.server.Load()
	go func() {
		for ctx.Err() == nil {
			t0 := time.Now()
			unlock, err := lockOnce(ctx)
			if err != nil {
				if ctx.Err() != nil {
					err = nil
				}
				loop <- err
				return
			}
			held := time.Now()
			time.Sleep(contendWork)
			unlocked := time.Now()
			if err := unlock(); err != nil {
				loop <- err
				return
			}
			mu.Lock()
			if ctx.Err() == nil { // only cycles done within the window
				rep.Cycles++
				rep.Waits = append(rep.Waits, held.Sub(t0))
				rep.Held = append(rep.Held, held.UnixNano())
				rep.Unlocked = append(rep.Unlocked, unlocked.UnixNano())
			}
			mu.Unlock()
		}
		loop <- nil
	}()
	var loopErr error
	select {
	case <-time.After(window):
	case loopErr = <-loop:
		if loopErr == nil {
			loopErr = errors.New("the loop ended before the window")
		}
	}
	mu.Lock()
	cancel()
	rep.Acquires = c.acquires.Load() - acquires0
	rep.Requests = c.server.Load() - requests0
	out := rep
	mu.Unlock()
	if loopErr != nil {
		return loopErr
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	fmt.Printf("result %s\n", b)
	select { // let a held lock go (and ours close its session); a parked api.Lock is left
	case <-loop:
	case <-time.After(2 * time.Second):
		os.Exit(0)
	}
	return nil
}

// contender is a running contender process.
type contender struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	ready  chan struct{}
	result chan contenderReport
	done   chan struct{}
}

// startContender starts a contender process of impl on key.
func startContender(impl, key, addr string) (*contender, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-child", impl, "-key", key, "-addr", addr)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &contender{cmd: cmd, stdin: stdin, ready: make(chan struct{}),
		result: make(chan contenderReport, 1), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 64<<20) // the report holds every wait
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			switch {
			case line == "ready":
				close(c.ready)
			case strings.HasPrefix(line, "result "):
				var rep contenderReport
				if json.Unmarshal([]byte(strings.TrimPrefix(line, "result ")), &rep) == nil {
					c.result <- rep
				}
			}
		}
		_ = cmd.Wait()
	}()
	return c, nil
}

// stop kills the contender if it is still running and waits for it.
func (c *contender) stop() {
	_ = c.cmd.Process.Kill()
	<-c.done
}

// benchContended runs mutexContenders processes of impl contending for
// key for window and sums their reports; server is a client of the Consul
// server, for its raft index.
func benchContended(cfg *api.Config, server *api.Client, impl, key string, window time.Duration) (contendedResult, error) {
	r, holds, err := runContenders(cfg, server, impl, key, mutexContenders, window)
	if err != nil {
		return r, err
	}
	r.handoffs, r.overlaps = handoffGaps(holds)
	return r, nil
}

// runContenders runs n contender processes of impl on key for window
// (started together once all are ready) and sums their reports; it also
// returns the holds of all of them, for the exclusion checks. server is a
// client of the Consul server, for its raft index.
func runContenders(cfg *api.Config, server *api.Client, impl, key string, n int, window time.Duration) (contendedResult, []holdSpan, error) {
	r := contendedResult{window: window}
	var cs []*contender
	defer func() {
		for _, c := range cs {
			c.stop()
		}
	}()
	for i := 0; i < n; i++ {
		c, err := startContender(impl, key, cfg.Address)
		if err != nil {
			return r, nil, err
		}
		cs = append(cs, c)
	}
	for i, c := range cs {
		select {
		case <-c.ready:
		case <-c.done:
			return r, nil, fmt.Errorf("contender %d exited before the window", i)
		case <-time.After(time.Minute):
			return r, nil, fmt.Errorf("contender %d not ready within a minute", i)
		}
	}
	raft0, err := raftIndex(server)
	if err != nil {
		return r, nil, err
	}
	for _, c := range cs {
		if _, err := fmt.Fprintf(c.stdin, "go %v\n", window); err != nil {
			return r, nil, err
		}
	}
	time.Sleep(window)
	raft1, err := raftIndex(server)
	if err != nil {
		return r, nil, err
	}
	r.raftWrites = int(raft1 - raft0)
	deadline := time.After(time.Minute)
	var holds []holdSpan
	for i, c := range cs {
		var rep contenderReport
		select {
		case rep = <-c.result:
		case <-c.done: // the report, if any, was sent before
			select {
			case rep = <-c.result:
			default:
				return r, nil, fmt.Errorf("contender %d exited without a report", i)
			}
		case <-deadline:
			return r, nil, fmt.Errorf("contender %d: no report", i)
		}
		r.cycles += rep.Cycles
		r.acquires += int(rep.Acquires)
		r.requests += int(rep.Requests)
		r.waits = append(r.waits, rep.Waits...)
		for j := range rep.Held {
			holds = append(holds, holdSpan{held: rep.Held[j], unlocked: rep.Unlocked[j], process: i})
		}
	}
	return r, holds, nil
}

// holdSpan is one cycle of one contender: when its Lock returned and when
// it called Unlock (Unix ns; the processes share the machine's clock).
type holdSpan struct {
	held, unlocked int64
	process        int
}

// handoffGaps orders the holds of all contenders and returns, for each
// hold after the first that went to another process, the time from the
// previous holder's Unlock call to this one's Lock returning, and the
// number of holds that began before the previous one's Unlock call (two
// holders at once: must be 0).
func handoffGaps(holds []holdSpan) (sample, int) {
	sort.Slice(holds, func(i, j int) bool { return holds[i].held < holds[j].held })
	var gaps sample
	overlaps := 0
	for i := 1; i < len(holds); i++ {
		prev, cur := holds[i-1], holds[i]
		if cur.held < prev.unlocked {
			overlaps++
			continue
		}
		if cur.process != prev.process {
			gaps = append(gaps, time.Duration(cur.held-prev.unlocked))
		}
	}
	return gaps, overlaps
}
