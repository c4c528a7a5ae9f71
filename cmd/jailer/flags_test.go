package main

import (
	"maps"
	"slices"
	"testing"

	"github.com/urfave/cli/v2"
)

// TestFlagsGiven: what applyEnterFlags asks instead of IsSet, so it must
// answer as IsSet does: for aliases (-u and --user), optional-value flags
// written alone (--net), and nothing for flags not given.
func TestFlagsGiven(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{nil, nil},
		{[]string{"-u", "tester"}, []string{"u", "user"}},
		{[]string{"--user", "tester", "--ro"}, []string{"ro", "u", "user"}},
		{[]string{"--net=host", "-w", "/tmp"}, []string{"net", "w", "workdir"}},
		{[]string{"--bind", "a:/a", "--bind", "b:/b", "--pids", "0"}, []string{"bind", "pids"}},
	} {
		var got map[string]bool
		var isSet []string
		app := &cli.App{Commands: []*cli.Command{{
			Name:  "enter",
			Flags: enterFlags(),
			Action: func(c *cli.Context) error {
				got = flagsGiven(c)
				for _, f := range c.Command.Flags {
					for _, n := range f.Names() {
						if c.IsSet(n) {
							isSet = append(isSet, n)
						}
					}
				}
				return nil
			},
		}}}
		if err := app.Run(append([]string{"jailer", "enter"}, tt.args...)); err != nil {
			t.Fatalf("%q: %v", tt.args, err)
		}
		names := slices.Sorted(maps.Keys(got))
		slices.Sort(isSet)
		if !slices.Equal(names, tt.want) || !slices.Equal(names, isSet) {
			t.Errorf("%q: flagsGiven = %q, IsSet says %q, want %q", tt.args, names, isSet, tt.want)
		}
	}
}
