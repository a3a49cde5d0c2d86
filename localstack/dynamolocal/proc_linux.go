package dynamolocal

import "syscall"

// sysProcAttr: a process group of its own, and SIGTERM if our thread dies:
// the JVM then exits in order, which gives DynamoDB Local's SQLite worker the
// moment it needs to run the COMMITs it has already acknowledged (SIGKILL
// lost them; see Server.Flush).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
