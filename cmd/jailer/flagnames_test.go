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
	app := newApp(io.Discard, io.Discard)
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
