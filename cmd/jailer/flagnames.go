package main

import "github.com/urfave/cli/v2"

// urfave/cli v2 works a flag's names out anew each time it asks for them
// (cli.FlagNames runs a regexp over every name), and before a command's
// action it asks of each of its flags whether it was set, finding each by
// name among all the command's flags: for `jailer enter`'s forty flags
// some two thousand regexp replacements, 70% of parsing its command line
// (0.2 ms warm, more in a process just started, on every run). namesOnce
// wraps each flag in one that works its names out once, when first asked;
// everything else is the flag's own.
func namesOnce(flags []cli.Flag) {
	for i, f := range flags {
		switch f := f.(type) {
		case *cli.BoolFlag:
			flags[i] = boolNames{f, new(names)}
		case *cli.StringFlag:
			flags[i] = stringNames{f, new(names)}
		case *cli.StringSliceFlag:
			flags[i] = stringSliceNames{f, new(names)}
		case *cli.IntFlag:
			flags[i] = intNames{f, new(names)}
		case *cli.Float64Flag:
			flags[i] = float64Names{f, new(names)}
		}
	}
}

// names are a flag's names, once worked out.
type names struct{ list []string }

func (n *names) of(f cli.Flag) []string {
	if n.list == nil {
		n.list = f.Names()
	}
	return n.list
}

type boolNames struct {
	*cli.BoolFlag
	n *names
}

func (f boolNames) Names() []string { return f.n.of(f.BoolFlag) }

type stringNames struct {
	*cli.StringFlag
	n *names
}

func (f stringNames) Names() []string { return f.n.of(f.StringFlag) }

type stringSliceNames struct {
	*cli.StringSliceFlag
	n *names
}

func (f stringSliceNames) Names() []string { return f.n.of(f.StringSliceFlag) }

type intNames struct {
	*cli.IntFlag
	n *names
}

func (f intNames) Names() []string { return f.n.of(f.IntFlag) }

type float64Names struct {
	*cli.Float64Flag
	n *names
}

func (f float64Names) Names() []string { return f.n.of(f.Float64Flag) }

// takesValue says whether f is given a value (--output DIR), unlike a
// switch (--force).
func takesValue(f cli.Flag) bool {
	v, ok := f.(interface{ TakesValue() bool })
	return ok && v.TakesValue()
}
