//go:build unix

package main

import (
	"os"
	"syscall"
)

// signalGroup sends sig to the process group that p leads.
func signalGroup(p *os.Process, sig os.Signal) {
	if s, ok := sig.(syscall.Signal); ok {
		_ = syscall.Kill(-p.Pid, s)
		return
	}
	_ = p.Signal(sig)
}
