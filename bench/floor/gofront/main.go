// Command gofront is bench/floor.sh's Go front end: the least a Go
// program does to start a jail (clone into new mount, PID, UTS and IPC
// namespaces, exec the init, wait), so that the benchmark shows what a
// Go front end costs by itself against a C one (cfront.c) and bwrap.
//
//	gofront INIT ROOT SCRATCH CMD [ARGS...]
package main

import (
	"os"
	"syscall"
)

func main() {
	if len(os.Args) < 5 {
		os.Stderr.WriteString("usage: gofront INIT ROOT SCRATCH CMD [ARGS...]\n")
		os.Exit(125)
	}
	pid, err := syscall.ForkExec(os.Args[1], os.Args[1:], &syscall.ProcAttr{
		Files: []uintptr{0, 1, 2},
		Sys: &syscall.SysProcAttr{
			Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC,
			Pdeathsig:  syscall.SIGKILL,
		},
	})
	if err != nil {
		os.Stderr.WriteString("gofront: " + err.Error() + "\n")
		os.Exit(125)
	}
	var ws syscall.WaitStatus
	syscall.Wait4(pid, &ws, 0, nil)
	os.Exit(ws.ExitStatus())
}
