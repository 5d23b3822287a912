package consultest

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	// stopTimeout bounds a graceful Stop before the agent is killed.
	stopTimeout = 15 * time.Second
	// exitTimeout bounds the wait for a killed process to be reaped.
	exitTimeout = 10 * time.Second
)

// proc is one run of an agent process.
type proc struct {
	cmd      *exec.Cmd
	done     chan struct{} // closed when the process has exited and been reaped
	err      error         // exit status; read only after done is closed
	logStart int64         // size of the log file when this run started
	paused   bool          // guarded by Agent.mu
}

// exited reports whether the process has exited.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// launch starts a new process of the agent from its config file. Its output
// is appended to the log file. The process gets SIGKILL when the test binary
// dies (Pdeathsig) and its own process group, so that the signals of the
// terminal and of `go test` do not reach it.
func (a *Agent) launch() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.proc != nil && !a.proc.exited() {
		return fmt.Errorf("agent %s is already running", a.Name)
	}
	logf, err := os.OpenFile(a.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	fi, err := logf.Stat()
	if err != nil {
		return err
	}
	a.starts++
	fmt.Fprintf(logf, "=== consultest: start #%d: consul %s\n", a.starts, strings.Join(a.args(), " "))
	cmd := exec.Command(a.bin, a.args()...)
	if a.Host != nil {
		cmd = a.Host.Command(a.bin, a.args()...)
	}
	cmd.Dir = a.DataDir
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start agent %s: %w", a.Name, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{}), logStart: fi.Size()}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	a.proc = p
	return nil
}

// current returns the current process if it is running, else nil.
func (a *Agent) current() *proc {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.proc == nil || a.proc.exited() {
		return nil
	}
	return a.proc
}

// signal sends sig to the process group of p.
func (p *proc) signal(sig syscall.Signal) error {
	err := syscall.Kill(-p.cmd.Process.Pid, sig)
	if err == syscall.ESRCH {
		return nil // exited meanwhile
	}
	return err
}

// wait waits up to d for p to exit.
func (p *proc) wait(d time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

// kill kills the agent process, if running, and waits for it to be reaped.
func (a *Agent) kill() error {
	p := a.current()
	if p == nil {
		return nil
	}
	if err := p.signal(syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill agent %s: %w", a.Name, err)
	}
	if !p.wait(exitTimeout) {
		return fmt.Errorf("agent %s (pid %d) did not exit %v after SIGKILL", a.Name, p.cmd.Process.Pid, exitTimeout)
	}
	a.setPaused(p, false)
	return nil
}

func (a *Agent) setPaused(p *proc, paused bool) {
	a.mu.Lock()
	p.paused = paused
	a.mu.Unlock()
}

// PID returns the process id of the agent's current (or last) process, or 0
// if it was never started.
func (a *Agent) PID() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.proc == nil {
		return 0
	}
	return a.proc.cmd.Process.Pid
}

// Running reports whether the agent process is running (paused or not).
func (a *Agent) Running() bool {
	return a.current() != nil
}

// Paused reports whether the agent process is running and paused by Pause.
func (a *Agent) Paused() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.proc != nil && !a.proc.exited() && a.proc.paused
}

// Pause stops the agent process with SIGSTOP and waits until the kernel
// reports it stopped. A paused agent keeps its sockets: connections to it
// are accepted by the kernel but never answered, and it stops gossiping, so
// the servers eventually mark its node's serfHealth check critical.
func (a *Agent) Pause(t testing.TB) {
	t.Helper()
	p := a.current()
	if p == nil {
		t.Fatalf("consultest: Pause: agent %s is not running", a.Name)
	}
	if err := p.signal(syscall.SIGSTOP); err != nil {
		t.Fatalf("consultest: Pause agent %s: %v", a.Name, err)
	}
	a.setPaused(p, true)
	deadline := time.Now().Add(5 * time.Second)
	for !processStopped(p.cmd.Process.Pid) {
		if time.Now().After(deadline) {
			t.Fatalf("consultest: Pause: agent %s (pid %d) not stopped 5s after SIGSTOP", a.Name, p.cmd.Process.Pid)
		}
		time.Sleep(time.Millisecond)
	}
}

// processStopped reports whether /proc says the process is stopped (state
// T) or, where there is no /proc, assumes it is.
func processStopped(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the command name, which is in parentheses.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] == 'T' || s[i+2] == 't'
	}
	return true
}

// Resume continues a paused agent with SIGCONT.
func (a *Agent) Resume(t testing.TB) {
	t.Helper()
	p := a.current()
	if p == nil {
		t.Fatalf("consultest: Resume: agent %s is not running", a.Name)
	}
	if err := p.signal(syscall.SIGCONT); err != nil {
		t.Fatalf("consultest: Resume agent %s: %v", a.Name, err)
	}
	a.setPaused(p, false)
}

// Kill kills the agent with SIGKILL (a crash: no leave, no shutdown) and
// waits for the process to exit. It does nothing if the agent is not
// running.
func (a *Agent) Kill(t testing.TB) {
	t.Helper()
	if err := a.kill(); err != nil {
		t.Fatalf("consultest: %v", err)
	}
}

// Stop shuts the agent down gracefully with SIGTERM (continuing it first if
// paused) and waits for it to exit; after 15s it is killed. A client agent
// leaves the cluster (leave_on_terminate): the servers deregister its node,
// which invalidates its sessions within a few hundred milliseconds, and the
// leave takes about 4s in all (Consul 1.21). A server does not leave and
// stays a raft voter. Stop does nothing if the agent is not running.
func (a *Agent) Stop(t testing.TB) {
	t.Helper()
	p := a.current()
	if p == nil {
		return
	}
	if err := p.signal(syscall.SIGTERM); err != nil {
		t.Fatalf("consultest: Stop agent %s: %v", a.Name, err)
	}
	if a.Paused() {
		if err := p.signal(syscall.SIGCONT); err != nil {
			t.Fatalf("consultest: Stop agent %s: %v", a.Name, err)
		}
	}
	if !p.wait(stopTimeout) {
		t.Logf("consultest: agent %s did not stop %v after SIGTERM; killing it", a.Name, stopTimeout)
		a.Kill(t)
	}
	a.setPaused(p, false)
}

// Restart starts the agent again with the same ports, data directory and
// configuration, and waits until it is ready. A running agent is stopped
// first (see Stop). A dev server restarts empty: its state is in memory.
func (a *Agent) Restart(t testing.TB) {
	t.Helper()
	a.Stop(t)
	if err := a.launch(); err != nil {
		t.Fatalf("consultest: Restart: %v", err)
	}
	a.WaitReady(t)
}
