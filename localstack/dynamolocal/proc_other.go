//go:build !linux

package dynamolocal

import "syscall"

// sysProcAttr: a process group of its own (Pdeathsig is Linux-only).
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
