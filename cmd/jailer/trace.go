package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

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
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 {
				return usagef("trace takes a manifest (see jailer trace --help)")
			}
			file, args := c.Args().First(), c.Args().Slice()[1:]
			if len(args) > 0 && args[0] == "--" {
				args = args[1:]
			} else if len(args) > 0 && strings.HasPrefix(args[0], "-") {
				return usagef("trace: put flags before the manifest (jailer trace --write m.yaml -- CMD)")
			}
			quiet, asJSON := wantQuiet(c), wantJSON(c)
			stdout, stderr := c.App.Writer, c.App.ErrWriter
			say := func(format string, a ...any) {
				if !quiet && !asJSON {
					fmt.Fprintf(stderr, "jailer: "+format+"\n", a...)
				}
			}
			stdio := enter.Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}
			if f, ok := stdout.(*os.File); ok {
				stdio.Out = f
			}
			if f, ok := stderr.(*os.File); ok {
				stdio.Err = f
			}
			rounds, err := trace.Trace(c.Context, file, trace.TraceOptions{
				Output: c.String("jail-dir"), Command: args, Stdio: stdio,
				Write: c.Bool("write"), MaxRounds: c.Int("max-rounds"),
				Edit: func(o *enter.Options) error { return applyEnterFlags(c, o) },
				Built: func(s *build.Summary) {
					if !s.UpToDate {
						say("%s", s)
					}
				},
				Round: func(r trace.TraceRound) {
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
			last := rounds[len(rounds)-1]
			switch {
			case asJSON:
				json.NewEncoder(stdout).Encode(map[string]any{"rounds": rounds})
			case len(last.Missing) == 0 && len(last.Notes) > 0:
				say("nothing to add from the host; the notes above say what was left out and why")
			case len(last.Missing) == 0:
				say("nothing the command looked for is missing from the jail")
			case !c.Bool("write"):
				n := len(last.Missing)
				say("%s the command looked for %s missing from the jail; add %s with --write", paths(n), plural(n, "is", "are"), plural(n, "it", "them"))
			case last.Status == 0:
				say("the command succeeded without the %s above; not added", paths(len(last.Missing)))
			case last.Written:
				say("stopped after %d rounds (--max-rounds)", len(rounds))
			}
			if last.Status != 0 {
				return exitError{code: last.Status}
			}
			return nil
		},
	}
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
