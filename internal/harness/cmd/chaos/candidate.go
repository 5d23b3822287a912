package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/consulelect/consulelect/internal/harness/consultest"
)

// host is one candidate host: a client agent, the fault proxy in front of
// it, and the candidate process, which talks to the agent through the proxy
// (CONSUL_HTTP_ADDR) and is started again after a SIGKILL. With -netns the
// agent and the candidate run in the host's network namespace.
type host struct {
	id     string
	agent  *consultest.Agent
	proxy  *consultest.Proxy
	bin    string
	args   []string
	log    string // the candidate's stderr, appended across restarts
	led    *ledger
	procWG *sync.WaitGroup // the harness waits for every follower goroutine

	mu sync.Mutex
	p  *proc
}

// proc is one candidate process and what its stdout said.
type proc struct {
	cmd  *exec.Cmd
	pid  int
	done chan struct{} // closed once it exited and was reaped

	// Guarded by host.mu.
	leading bool
	token   uint64
	session string
	paused  bool
	killed  bool // the harness signalled it to die
}

// spawn starts a candidate process on the host.
func (c *host) spawn() error {
	logf, err := os.OpenFile(c.log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close() // the child keeps its own descriptor
	cmd := exec.Command(c.bin, c.args...)
	if c.agent.Host != nil {
		cmd = c.agent.Host.Command(c.bin, c.args...) // execs: same pid
	}
	cmd.Env = append(consulFreeEnv(), "CONSUL_HTTP_ADDR="+c.proxy.Addr())
	cmd.Stderr = logf
	// Pdeathsig: no candidate outlives the harness, even after a SIGKILL
	// of the harness. Own process group: a Ctrl-C in the terminal reaches
	// only the harness, which stops everything in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	p := &proc{cmd: cmd, pid: cmd.Process.Pid, done: make(chan struct{})}
	c.mu.Lock()
	c.p = p
	c.mu.Unlock()
	c.led.add(record{Ev: evSpawn, Mono: mono(), ID: c.id, PID: p.pid})
	c.procWG.Add(1)
	go func() {
		defer c.procWG.Done()
		c.follow(p, bufio.NewScanner(out))
	}()
	return nil
}

// follow tracks the process's stdout lines (elected/demoted) until it
// exits, then reaps it.
func (c *host) follow(p *proc, sc *bufio.Scanner) {
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		tok, _ := strconv.ParseUint(f[1], 10, 64)
		c.mu.Lock()
		switch f[0] {
		case "elected":
			p.leading, p.token = true, tok
			if len(f) > 2 {
				p.session = f[2]
			}
		case "demoted":
			if p.token == tok {
				p.leading = false
			}
		}
		c.mu.Unlock()
	}
	err := p.cmd.Wait()
	c.mu.Lock()
	p.leading = false
	expected := p.killed
	c.mu.Unlock()
	r := record{Ev: evExit, Mono: mono(), ID: c.id, PID: p.pid}
	if !expected {
		r.Detail = fmt.Sprintf("unexpected exit: %v", err)
	}
	c.led.add(r)
	close(p.done)
}

// state returns the current process and a copy of what it said.
func (c *host) state() (p *proc, leading, paused bool, token uint64, session string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.p == nil {
		return nil, false, false, 0, ""
	}
	return c.p, c.p.leading, c.p.paused, c.p.token, c.p.session
}

// alive reports whether the current process has not exited.
func (c *host) alive() bool {
	p, _, _, _, _ := c.state()
	if p == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// kill SIGKILLs the current process and waits until it is reaped.
func (c *host) kill() {
	p, _, _, _, _ := c.state()
	if p == nil {
		return
	}
	c.mu.Lock()
	p.killed = true
	c.mu.Unlock()
	sent := mono()
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	c.led.add(record{Ev: evKill, Mono: sent, Confirmed: mono(), ID: c.id, PID: p.pid})
}

// pause SIGSTOPs the current process and waits until the kernel reports
// it stopped (the paused interval the checker uses starts there).
func (c *host) pause() error {
	p, _, _, _, _ := c.state()
	sent := mono()
	if err := syscall.Kill(p.pid, syscall.SIGSTOP); err != nil {
		return err
	}
	if err := waitStopped(p.pid); err != nil {
		return err
	}
	c.led.add(record{Ev: evStop, Mono: sent, Confirmed: mono(), ID: c.id, PID: p.pid})
	c.mu.Lock()
	p.paused = true
	c.mu.Unlock()
	return nil
}

// resume SIGCONTs the current process; the time is recorded before the
// signal is sent, so the process cannot have run earlier.
func (c *host) resume() {
	p, _, paused, _, _ := c.state()
	if p == nil || !paused {
		return
	}
	c.led.add(record{Ev: evCont, Mono: mono(), ID: c.id, PID: p.pid})
	_ = syscall.Kill(p.pid, syscall.SIGCONT)
	c.mu.Lock()
	p.paused = false
	c.mu.Unlock()
}

// terminate stops the current process gracefully (SIGTERM: the elector
// releases the key), and kills it if it has not exited within grace.
func (c *host) terminate(grace time.Duration) {
	p, _, _, _, _ := c.state()
	if p == nil {
		return
	}
	c.resume()
	c.mu.Lock()
	p.killed = true
	c.mu.Unlock()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		c.kill()
	}
}

// waitStopped waits until /proc says the process is stopped (state T).
func waitStopped(pid int) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return err
		}
		// The state follows the command name, which is in parentheses.
		if i := strings.LastIndexByte(string(b), ')'); i > 0 && i+2 < len(b) && (b[i+2] == 'T' || b[i+2] == 't') {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("process %d did not stop", pid)
		}
		time.Sleep(time.Millisecond)
	}
}

// consulFreeEnv is the environment without CONSUL_HTTP_* variables, which
// api.NewClient would read.
func consulFreeEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CONSUL_HTTP_") {
			env = append(env, kv)
		}
	}
	return env
}
