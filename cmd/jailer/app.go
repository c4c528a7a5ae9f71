package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/jailer-dev/jailer/jail/timeline"
	"github.com/jailer-dev/jailer/manifest"
)

// Exit codes shared by every command.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// usageError marks a mistake on the command line (exit 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// exitError carries a specific exit status with an optional message.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

// commands are jailer's commands, in the order help lists them: the name
// each is typed as, and what makes it.
var commands = []struct {
	name string
	make func() *cli.Command
}{
	{"build", buildCommand}, {"plan", planCommand}, {"check", checkCommand}, {"enter", enterCommand},
	{"run", runCommand}, {"trace", traceCommand}, {"ps", psCommand}, {"exec", execCommand}, {"stop", stopCommand},
	{"export", exportCommand}, {"info", infoCommand}, {"graph", graphCommand}, {"gc", gcCommand},
	{"doctor", doctorCommand}, {"schema", schemaCommand}, {"completion", completionCommand}, {"man", manCommand},
	{"version", versionCommand},
}

// newApp is the CLI for the command line args. Making every command, with
// its flags (18 commands, 150 flags), is most of the CLI's start, and
// only one runs: a command line that names one gets it whole and the
// others as their names alone. Any other (no command, a mistyped one,
// completion, man, which describe them all) gets every command whole.
func newApp(stdout, stderr io.Writer, args []string) *cli.App {
	named := namedCommand(args)
	cmds := make([]*cli.Command, len(commands))
	for i, c := range commands {
		if named == "" || named == c.name {
			cmds[i] = c.make()
		} else {
			cmds[i] = &cli.Command{Name: c.name}
		}
	}
	app := &cli.App{
		Name:      "jailer",
		Usage:     "build chroot jails from a YAML manifest and run programs in them",
		Writer:    stdout,
		ErrWriter: stderr,
		Flags: []cli.Flag{newJSONFlag(), newQuietFlag(),
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "print more detail (build: why it rebuilt)"}},
		HideHelpCommand:      true,
		EnableBashCompletion: true,
		Commands:             cmds,
		ExitErrHandler:       func(*cli.Context, error) {}, // run() maps errors to exit codes
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usageError{err.Error()}
		},
	}
	namesOnce(app.Flags)
	for _, c := range app.Commands {
		namesOnce(c.Flags)
		c.HideHelpCommand = true // no `jailer build help`; --help is enough
		name := c.Name
		// A bad flag is one line with a hint, not the whole help text.
		c.OnUsageError = func(_ *cli.Context, err error, _ bool) error {
			return usagef("%v (see jailer %s --help)", err, name)
		}
	}
	return app
}

// namedCommand is the command args run, when they name one that needs
// no other to be made; else "".
func namedCommand(args []string) string {
	i := 1
	for i < len(args) && strings.HasPrefix(args[i], "-") {
		i++ // global flags, all switches
	}
	if i >= len(args) || slices.Contains(args, "--generate-bash-completion") {
		return ""
	}
	for _, c := range commands {
		if c.name == args[i] && c.name != "man" && c.name != "completion" {
			return c.name
		}
	}
	return ""
}

// run is the whole program, so that tests drive exactly what users run.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	defer timeline.Print(stderr) // with JAILER_TIMELINE: see package timeline
	app := newApp(stdout, stderr, args)
	err := app.RunContext(ctx, interspersed(args, app))
	if err == nil {
		return exitOK
	}
	code := exitFailure
	var ue usageError
	var me *manifest.Error
	var ee exitError
	switch {
	case errors.As(err, &ee):
		code = ee.code
	case errors.As(err, &ue):
		code = exitUsage
	case errors.As(err, &me):
		code = exitUsage
	case strings.HasPrefix(err.Error(), "flag provided but not defined"), strings.HasPrefix(err.Error(), "No help topic"):
		code = exitUsage
	}
	if msg := err.Error(); msg != "" {
		for _, line := range strings.Split(msg, "\n") {
			if me != nil || strings.HasPrefix(line, "jailer") {
				fmt.Fprintln(stderr, line)
			} else {
				fmt.Fprintln(stderr, "jailer: "+line)
			}
		}
	}
	return code
}

// oneArg returns the single positional argument a command takes.
func oneArg(c *cli.Context, what string) (string, error) {
	if c.NArg() != 1 {
		return "", usagef("%s takes one %s (see jailer %s --help)", c.Command.Name, what, c.Command.Name)
	}
	return c.Args().First(), nil
}
