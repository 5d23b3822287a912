package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/consulelect/consulelect/leader"
)

// runChild is the holder process of the crash benchmark: it takes the key
// with impl ("ours" or "apilock"), prints "held", and waits to be killed.
func runChild(impl, key, addr, profile string) error {
	cfg := api.DefaultConfig()
	cfg.Address = addr
	client, err := api.NewClient(cfg)
	if err != nil {
		return err
	}
	switch impl {
	case "ours":
		c := profileConfig(profile)
		c.Key, c.Identity = key, "crash-victim"
		e, err := leader.New(client, c, leader.WithLeaderFunc(func(ctx context.Context, _ *leader.Term) error {
			fmt.Println("held")
			<-ctx.Done()
			return nil
		}))
		if err != nil {
			return err
		}
		return e.Run(context.Background())
	case "apilock":
		l, err := client.LockKey(key)
		if err != nil {
			return err
		}
		if _, err := l.Lock(nil); err != nil {
			return err
		}
		fmt.Println("held")
		select {}
	}
	return fmt.Errorf("unknown impl %q", impl)
}

// child is a running holder process.
type child struct {
	cmd  *exec.Cmd
	held chan struct{}
	done chan struct{}
}

func startChild(impl, key, addr, profile string) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-child", impl, "-key", key, "-addr", addr, "-profile", profile)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, held: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) == "held" {
				close(c.held)
			}
		}
		_ = cmd.Wait()
	}()
	select {
	case <-c.held:
		return c, nil
	case <-time.After(60 * time.Second):
		c.kill()
		return nil, fmt.Errorf("%s child did not take %s", impl, key)
	}
}

// kill SIGKILLs the child and waits for it; it returns the kill time.
func (c *child) kill() time.Time {
	t := time.Now()
	_ = c.cmd.Process.Kill()
	<-c.done
	return t
}
