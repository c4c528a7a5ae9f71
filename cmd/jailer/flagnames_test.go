package main

import (
	"io"
	"slices"
	"testing"

	"github.com/urfave/cli/v2"
)

// TestNamesOnce: every flag of every command is wrapped (a flag of a
// type namesOnce does not know is not, and is found here), and a wrapped
// flag has the names, help line and kind of the flag it wraps, asked
// once or twice.
func TestNamesOnce(t *testing.T) {
	app := newApp(io.Discard, io.Discard, nil)
	groups := map[string][]cli.Flag{"jailer": app.Flags}
	for _, c := range app.Commands {
		groups[c.Name] = c.Flags
	}
	for name, flags := range groups {
		for _, f := range flags {
			var inner cli.Flag
			switch w := f.(type) {
			case boolNames:
				inner = w.BoolFlag
			case stringNames:
				inner = w.StringFlag
			case stringSliceNames:
				inner = w.StringSliceFlag
			case intNames:
				inner = w.IntFlag
			case float64Names:
				inner = w.Float64Flag
			default:
				t.Errorf("%s: flag %v (%T) is not wrapped: add its type to namesOnce", name, f.Names(), f)
				continue
			}
			for range 2 {
				if got, want := f.Names(), inner.Names(); !slices.Equal(got, want) || len(got) == 0 {
					t.Errorf("%s: names %v, want %v", name, got, want)
				}
			}
			if f.String() != inner.String() || takesValue(f) != takesValue(inner) {
				t.Errorf("%s: %q (takes a value: %v), want %q (%v)", name, f.String(), takesValue(f), inner.String(), takesValue(inner))
			}
		}
	}
}

// TestNewAppMakesTheNamedCommand: each command's table name is the name
// it is made with; a command line naming one makes it as a full app
// would (the same help line, flags and action) and the others by name
// only; a line naming none, completion or man makes them all.
func TestNewAppMakesTheNamedCommand(t *testing.T) {
	full := newApp(io.Discard, io.Discard, nil)
	for i, c := range commands {
		if full.Commands[i].Name != c.name || full.Commands[i].Action == nil {
			t.Errorf("commands[%d] is %q, made as %q (action %v)", i, c.name, full.Commands[i].Name, full.Commands[i].Action != nil)
		}
	}
	for i, c := range commands {
		args := []string{"jailer", "-q", c.name, "x"}
		app := newApp(io.Discard, io.Discard, args)
		for j, got := range app.Commands {
			whole := got.Action != nil
			if want := j == i || c.name == "man" || c.name == "completion"; whole != want {
				t.Errorf("jailer %s: command %s made whole: %v, want %v", c.name, got.Name, whole, want)
			}
			if whole && (got.Usage != full.Commands[j].Usage || len(got.Flags) != len(full.Commands[j].Flags)) {
				t.Errorf("jailer %s: command %s differs from the full app's", c.name, got.Name)
			}
		}
	}
	for _, args := range [][]string{{"jailer"}, {"jailer", "-v"}, {"jailer", "bulid", "m.yaml"}, {"jailer", "build", "--generate-bash-completion"}} {
		for _, got := range newApp(io.Discard, io.Discard, args).Commands {
			if got.Action == nil {
				t.Errorf("%v: command %s not made whole", args, got.Name)
			}
		}
	}
}
