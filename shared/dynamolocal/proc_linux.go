package dynamolocal

import "syscall"

// sysProcAttr: a process group of its own, and SIGKILL if our thread dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
