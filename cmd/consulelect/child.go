package main

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"
)

// child is the command run under leadership or a lock: started in a
// process group of its own, signalled as a group, and (on Linux) killed by
// the kernel if consulelect dies, even by SIGKILL.
type child struct {
	cmd   *exec.Cmd
	done  chan struct{} // closed when it has exited
	state *os.ProcessState
	err   error // from Wait, when it did not run to an exit status
}

// startChild starts args with env added to consulelect's own. The
// goroutine that starts it keeps its OS thread until the child exits: the
// parent-death signal fires when the starting thread ends, not the process.
func startChild(args, env []string, stdout, stderr io.Writer) (*child, error) {
	c := &child{cmd: exec.Command(args[0], args[1:]...), done: make(chan struct{})}
	c.cmd.Env = append(os.Environ(), env...)
	c.cmd.Stdin, c.cmd.Stdout, c.cmd.Stderr = os.Stdin, stdout, stderr
	c.cmd.SysProcAttr = sysProcAttr()
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		if err := c.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		err := c.cmd.Wait()
		c.state = c.cmd.ProcessState
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			c.err = err
		}
		close(c.done)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return c, nil
}

// signal sends sig to the child's process group.
func (c *child) signal(sig os.Signal) {
	select {
	case <-c.done:
		return
	default:
	}
	signalGroup(c.cmd.Process, sig)
}

// stop sends SIGTERM, then SIGKILL after grace, and waits for the exit.
func (c *child) stop(grace time.Duration) {
	c.signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-c.done:
		return
	case <-t.C:
	}
	c.signal(syscall.SIGKILL)
	<-c.done
}

// code is the exit code that reports the child's end: its own status, or
// 128+N when signal N ended it.
func (c *child) code() int {
	if c.state == nil {
		return exitRunFail
	}
	if ws, ok := c.state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return c.state.ExitCode()
}

// startCode is the exit code for a command that could not be started.
func startCode(err error) int {
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
		return exitNotFound
	}
	return exitNoExec
}
