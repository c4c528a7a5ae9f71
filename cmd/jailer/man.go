package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"
)

// manDescription is the DESCRIPTION section of the manual page (markdown).
const manDescription = `jailer builds chroot jails from a YAML manifest: the programs it names with every
shared library they load (the ELF interpreter and DT_NEEDED, recursively, as the host's
loader finds them), files, directories, symlinks, device nodes, users and groups. It
builds into a staging directory and swaps it into place, and keeps a lock file beside
the tree (JAIL.jailer.lock) so that rebuilds are incremental and drift is detectable.
**jailer enter** runs a command inside a jail in new namespaces, pivoted into it, with
a fresh /proc and /dev, limits, dropped capabilities and a seccomp filter.

Exit status: 0 success, 1 failure, 2 a usage or manifest error; **enter** and **run**
exit with the command's status (128+N when killed by signal N, 124 on timeout, 125
when jailer fails before the command starts, 126 when it cannot be run, 127 when it is
not found).

**jailer schema** prints the JSON Schema of manifests; **jailer completion bash|zsh|fish**
prints a shell completion script.`

// manCommand prints the manual page, made by urfave/cli from the commands
// and flags. Its generator (docs.go) is left out of the jailer binary
// (-tags urfave_cli_no_docs, for start-up time), so only a build without
// that tag can print it: `make man` builds one and writes jailer.1.
func manCommand() *cli.Command {
	return &cli.Command{
		Name:   "man",
		Hidden: true,
		Usage:  "print the manual page (roff), in builds without -tags urfave_cli_no_docs",
		Action: func(c *cli.Context) error {
			gen, ok := any(c.App).(interface {
				ToManWithSection(int) (string, error)
			})
			if !ok {
				return errors.New("this jailer was built without urfave/cli's document generators (-tags urfave_cli_no_docs); `make man` writes jailer.1")
			}
			if c.App.Description == "" {
				c.App.Description = manDescription
			}
			page, err := gen.ToManWithSection(1)
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(c.App.Writer, page)
			return err
		},
	}
}
