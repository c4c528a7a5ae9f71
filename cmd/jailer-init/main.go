// The init needs no GOMAXPROCS from its cgroup's CPU limit: reading the
// cgroup files at start costs it more than they would save.

//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0

// Command jailer-init is the init of the jails jailer enters: jailer
// starts it in the jail's new namespaces, and it builds the jail's mount
// tree, drops privileges, starts the command and is its PID 1 (package
// jailinit). It links that package and little else, so that it starts in
// a fraction of the time jailer itself would; `make build` puts it beside
// jailer, which uses it when it is the one built with it (see
// jail/enter/initprog.go) and starts itself as the init otherwise.
//
// It is not a command to run by hand.
package main

import (
	"fmt"
	"os"

	"github.com/jailer-dev/jailer/jail/enter/jailinit"
	"github.com/jailer-dev/jailer/jail/timeline"
)

func main() {
	if !jailinit.IsInit() {
		fmt.Fprintln(os.Stderr, "jailer-init: jailer enter (and run, trace) starts this program as a jail's init; it is not a command of its own")
		os.Exit(2)
	}
	timeline.Mark("package init")
	os.Exit(jailinit.Main())
}
