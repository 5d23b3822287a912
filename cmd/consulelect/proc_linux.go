package main

import "syscall"

// sysProcAttr puts the child in its own process group and has the kernel
// kill it when consulelect's thread that started it dies (PR_SET_PDEATHSIG).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
