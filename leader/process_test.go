package leader_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	candidateOnce sync.Once
	candidateBin  string
	candidateErr  error
)

// buildCandidate builds internal/harness/cmd/candidate once per test binary.
func buildCandidate(t *testing.T) string {
	t.Helper()
	candidateOnce.Do(func() {
		dir, err := os.MkdirTemp("", "consulelect-candidate")
		if err != nil {
			candidateErr = err
			return
		}
		candidateBin = filepath.Join(dir, "candidate")
		out, err := exec.Command("go", "build", "-o", candidateBin, "../internal/harness/cmd/candidate").CombinedOutput()
		if err != nil {
			candidateErr = err
			candidateBin = string(out)
		}
	})
	if candidateErr != nil {
		t.Fatalf("building the candidate: %v\n%s", candidateErr, candidateBin)
	}
	return candidateBin
}

// candidateProc is a leader candidate running in its own process.
type candidateProc struct {
	cmd   *exec.Cmd
	lines chan string
	done  chan struct{}
}

// startCandidate runs the candidate against the agent at httpAddr.
func startCandidate(t *testing.T, httpAddr string, args ...string) *candidateProc {
	t.Helper()
	cmd := exec.Command(buildCandidate(t), args...)
	cmd.Env = append(os.Environ(), "CONSUL_HTTP_ADDR="+httpAddr)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &candidateProc{cmd: cmd, lines: make(chan string, 64), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		_ = cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
	})
	return p
}

// waitLine waits for a line starting with prefix.
func (p *candidateProc) waitLine(t *testing.T, prefix string, timeout time.Duration) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l := <-p.lines:
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-deadline:
			t.Fatalf("candidate printed no %q line within %v", prefix, timeout)
		}
	}
}

// kill SIGKILLs the process and waits for it to be gone.
func (p *candidateProc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.done
}

// tryLine reports whether a line starting with prefix arrives within timeout.
func (p *candidateProc) tryLine(prefix string, timeout time.Duration) bool {
	deadline := time.After(timeout)
	for {
		select {
		case l := <-p.lines:
			if strings.HasPrefix(l, prefix) {
				return true
			}
		case <-deadline:
			return false
		}
	}
}

// signal sends sig to the process.
func (p *candidateProc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}
