package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// replica is one example-service process.
type replica struct {
	name   string
	listen string
	log    string
	cmd    *exec.Cmd
	done   chan struct{}
	state  string // running, stopped, killed
}

// role is the part of /role the demo reads.
type role struct {
	Role         string    `json:"role"`
	IsLeader     bool      `json:"is_leader"`
	FencingToken uint64    `json:"fencing_token"`
	Since        time.Time `json:"since"`
	Leader       *struct {
		ID string `json:"id"`
	} `json:"leader"`
}

func startReplica(bin, dir, consulAddr, key, name string) (*replica, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	r := &replica{name: name, listen: fmt.Sprintf("127.0.0.1:%d", port),
		log: filepath.Join(dir, name+".log"), done: make(chan struct{}), state: "running"}
	logf, err := os.Create(r.log)
	if err != nil {
		return nil, err
	}
	r.cmd = exec.Command(bin, "-consul-addr", consulAddr, "-key", key, "-id", name,
		"-listen", r.listen, "-ledger-key", key+"-ledger", "-log-level", "debug")
	r.cmd.Stdout, r.cmd.Stderr = logf, logf
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	go func() {
		defer close(r.done)
		_ = r.cmd.Wait()
		logf.Close()
	}()
	return r, nil
}

// role asks the replica's /role endpoint.
func (r *replica) role(ctx context.Context) (role, error) {
	var out role
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+r.listen+"/role", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	return out, json.NewDecoder(resp.Body).Decode(&out)
}

// signal sends sig and, for SIGTERM and SIGKILL, waits for the exit.
func (r *replica) signal(sig syscall.Signal, timeout time.Duration) error {
	if err := r.cmd.Process.Signal(sig); err != nil {
		return err
	}
	select {
	case <-r.done:
		return nil
	case <-time.After(timeout):
		_ = r.cmd.Process.Kill()
		<-r.done
		return fmt.Errorf("%s did not exit within %v after %v", r.name, timeout, sig)
	}
}

func (r *replica) alive() bool {
	select {
	case <-r.done:
		return false
	default:
		return true
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
