//go:build unix && !linux

package main

import "syscall"

// sysProcAttr puts the child in its own process group. Outside Linux there
// is no parent-death signal: if consulelect is killed with SIGKILL, the
// command goes on until it ends by itself.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
