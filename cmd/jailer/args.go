package main

import (
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// pathsOnly are the commands whose arguments are all paths (`jailer gc
// A B --json`).
var pathsOnly = map[string]bool{"gc": true}

// interspersed rewrites a command's arguments so that flags may follow the
// jail or manifest (`jailer run m.yaml --bind .:/src -- cmd`, `jailer build
// m.yaml -o DIR`), which urfave/cli v2 does not allow on its own: flags
// before the first positional argument are kept, flags between it and the
// command are moved in front, and "--" marks where the positional
// arguments start. Everything from a second positional argument on (the
// command of enter, run and trace) is left alone, so `enter JAIL ls -l`
// passes -l to ls.
func interspersed(args []string, app *cli.App) []string {
	commands := app.Commands
	i := 1
	for i < len(args) && strings.HasPrefix(args[i], "-") {
		i++ // global flags
	}
	if i >= len(args) || args[len(args)-1] == "--generate-bash-completion" {
		return args // completion looks at the arguments as typed
	}
	var cmd *cli.Command
	for _, c := range commands {
		if c.Name == args[i] {
			cmd = c
		}
	}
	if cmd == nil {
		return args
	}
	valued, own := map[string]bool{}, map[string]bool{}
	for _, f := range cmd.Flags {
		for _, n := range f.Names() {
			own[n] = true
		}
		if !takesValue(f) {
			continue
		}
		for _, n := range f.Names() {
			valued[n] = true
		}
	}
	// Global flags (-v, --json, -q) the command does not define itself
	// are moved before it, so `jailer build -v m.yaml` works.
	global := map[string]bool{}
	for _, f := range app.Flags {
		if !takesValue(f) {
			for _, n := range f.Names() {
				global[n] = !own[n]
			}
		}
	}
	// A command that takes only paths has no command of its own to pass
	// flags to: flags may come anywhere among its arguments.
	limit := 2
	if pathsOnly[cmd.Name] {
		limit = len(args)
	}
	var globals, flags, positional, rest []string
	tail := args[i+1:]
	for j := 0; j < len(tail); j++ {
		tok := tail[j]
		switch {
		case tok == "--":
			rest = tail[j+1:]
			j = len(tail)
		case strings.HasPrefix(tok, "-") && len(positional) < limit && global[strings.TrimLeft(tok, "-")]:
			globals = append(globals, tok)
		case strings.HasPrefix(tok, "-") && len(tok) > 1 && len(positional) < limit:
			name := strings.TrimLeft(tok, "-")
			if opt, ok := optionalValues[name]; ok && own[name] {
				// `--net JAIL` and `--net host JAIL`: the next word is
				// the value only when it is one of the flag's values.
				if j+1 < len(tail) && slices.Contains(opt.values, tail[j+1]) {
					j++
					tok += "=" + tail[j]
				} else {
					tok += "=" + opt.values[0]
				}
				flags = append(flags, tok)
				continue
			}
			flags = append(flags, tok)
			if valued[name] && !strings.Contains(tok, "=") && j+1 < len(tail) {
				j++
				flags = append(flags, tail[j])
			}
		case len(positional) == 0 || pathsOnly[cmd.Name]:
			positional = append(positional, tok)
		default:
			rest = tail[j:] // the command and its own arguments
			j = len(tail)
		}
	}
	out := append(append(append([]string{}, args[:i]...), globals...), args[i])
	out = append(out, flags...)
	if len(positional) == 0 && len(rest) == 0 {
		return out
	}
	out = append(out, "--")
	out = append(out, positional...)
	return append(out, rest...)
}
