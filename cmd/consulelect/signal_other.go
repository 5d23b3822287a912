//go:build !unix

package main

import (
	"os"
	"syscall"
)

func sysProcAttr() *syscall.SysProcAttr { return nil }

// signalGroup signals p itself (no process groups here); SIGTERM kills.
func signalGroup(p *os.Process, sig os.Signal) {
	if sig == syscall.SIGTERM || sig == syscall.SIGKILL {
		_ = p.Kill()
		return
	}
	_ = p.Signal(sig)
}
