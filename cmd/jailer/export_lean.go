//go:build jailer_lean

package main

// The lean jailer (`make build` builds bin/jailer with the tag
// jailer_lean) leaves out package export and, with it, the container
// registry client, its HTTP and TLS stacks and their initialisation:
// that takes 0.8 ms off the start of every other command, `jailer enter`
// and `jailer run` among them (see README, "Start latency"). `jailer
// export` is then done by jailer-full, the whole program, which the
// Makefile builds and installs beside jailer and links the Go build ID of
// into it (fullBuildID): this process becomes it, with the same
// arguments, environment and descriptors.

import (
	"fmt"
	"os"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/jailer-dev/jailer/jail/companion"
)

// fullProgram is the whole jailer, beside the lean one.
const fullProgram = "jailer-full"

// fullBuildID is the Go build ID of the jailer-full built with this
// jailer, set at link time (-X) by the Makefile.
var fullBuildID string

// exportAction is `jailer export`, done by jailer-full (exportCommand).
func exportAction(c *cli.Context) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("jailer %s: find this program: %w", c.Command.Name, err)
	}
	full, err := companion.Beside(self, fullProgram, fullBuildID)
	if err != nil {
		return fmt.Errorf("jailer %s is done by %s, installed beside jailer, which is not usable: %v (make install puts both in place)", c.Command.Name, fullProgram, err)
	}
	err = syscall.Exec(full, os.Args, os.Environ())
	return fmt.Errorf("jailer %s: start %s: %w", c.Command.Name, full, err)
}
