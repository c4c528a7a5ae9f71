package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/jailer-dev/jailer/jail/build"
	"github.com/jailer-dev/jailer/jail/enter"
	"github.com/jailer-dev/jailer/jail/trace"

	"github.com/urfave/cli/v2"

	"github.com/jailer-dev/jailer/manifest"
)

func traceCommand() *cli.Command {
	return &cli.Command{
		Name:      "trace",
		Usage:     "run a command in the jail under ptrace and print the manifest lines that add what it looked for and the jail lacks",
		ArgsUsage: "MANIFEST [-- CMD [ARGS...]]",
		Flags: append(enterFlags(),
			&cli.BoolFlag{Name: "write", Usage: "add what a failing run looked for to the manifest, rebuild and trace again, until the command succeeds"},
			&cli.IntFlag{Name: "max-rounds", Value: 5, Usage: "with --write, run at most this many times"},
			&cli.StringFlag{Name: "jail-dir", Aliases: []string{"o"}, Usage: "jail directory (default: the manifest's output; -o as in build)"},
			newJSONFlag(), newQuietFlag()),
		Action: traceAction,
	}
}

func traceAction(c *cli.Context) error {
	if c.NArg() < 1 {
		return usagef("trace takes a manifest (see jailer trace --help)")
	}
	// interspersed has moved flags written after the manifest in front of
	// it: what follows the manifest is the command, even one that starts
	// with "-" (`trace m.yaml -- -x`).
	file, args := c.Args().First(), c.Args().Tail()
	quiet, asJSON := wantQuiet(c), wantJSON(c)
	stdout := c.App.Writer
	say := func(format string, a ...any) {
		if !quiet && !asJSON {
			fmt.Fprintf(c.App.ErrWriter, "jailer: "+format+"\n", a...)
		}
	}
	rounds, err := trace.Trace(c.Context, file, trace.Options{
		Output: c.String("jail-dir"), Command: args, Stdio: stdioOf(c),
		Write: c.Bool("write"), MaxRounds: c.Int("max-rounds"),
		Edit: func(o *enter.Options) error {
			if abs, err := filepath.Abs(file); err == nil {
				o.Manifest = abs // for jailer ps
			}
			return applyEnterFlags(c, o)
		},
		Built: func(s *build.Summary) {
			if !s.UpToDate {
				say("%s", s)
			}
		},
		Round: func(r trace.Round) {
			msg := fmt.Sprintf("trace round %d: exit status %d", r.N, r.Status)
			if r.Err != "" {
				msg += " (" + r.Err + ")"
			}
			say("%s; %s missing from the jail", msg, paths(len(r.Missing)))
			if !asJSON {
				trace.WriteSuggestions(stdout, r.Missing, r.Notes)
			}
			if r.Written {
				say("added %s to %s", paths(len(r.Missing)), file)
			}
		},
	})
	var me *manifest.Error
	var ue usageError
	switch {
	case err != nil && (errors.As(err, &me) || errors.As(err, &ue)):
		return err
	case err != nil:
		return exitError{code: enter.ExitSetupFailed, err: err}
	}
	if asJSON {
		json.NewEncoder(stdout).Encode(map[string]any{"rounds": rounds})
	} else {
		say("%s", traceOutcome(rounds, c.Bool("write")))
	}
	if last := rounds[len(rounds)-1]; last.Status != 0 {
		return exitError{code: last.Status}
	}
	return nil
}

// traceOutcome says, in one line, how the trace ended.
func traceOutcome(rounds []trace.Round, write bool) string {
	last := rounds[len(rounds)-1]
	n := len(last.Missing)
	switch {
	case n == 0 && len(last.Notes) > 0:
		return "nothing to add from the host; the notes above say what was left out and why"
	case n == 0:
		return "nothing the command looked for is missing from the jail"
	case !write:
		return fmt.Sprintf("%s the command looked for %s missing from the jail; add %s with --write", paths(n), plural(n, "is", "are"), plural(n, "it", "them"))
	case last.Status == 0:
		return fmt.Sprintf("the command succeeded without the %s above; not added", paths(n))
	}
	return fmt.Sprintf("stopped after %d rounds (--max-rounds)", len(rounds))
}

func paths(n int) string {
	if n == 1 {
		return "1 path"
	}
	return fmt.Sprintf("%d paths", n)
}

func plural(n int, one, more string) string {
	if n == 1 {
		return one
	}
	return more
}
