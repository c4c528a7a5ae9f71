package main

import "testing"

// TestPrintable: what ps prints of a record's tree and command reaches the
// terminal as text, never as control sequences.
func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"/srv/jails/py":              "/srv/jails/py",
		"sh -c echo héllo":           "sh -c echo héllo",
		"x\x1b[2K\x1b]0;owned\x07":   `x\x1b[2K\x1b]0;owned\a`,
		"a\tb":                       `a\tb`,
		"line\nfake-row  root":       `line\nfake-row  root`,
		"\u202eevil (right-to-left)": `\u202eevil (right-to-left)`,
	} {
		if got := printable(in); got != want {
			t.Errorf("printable(%q) = %q, want %q", in, got, want)
		}
	}
}
