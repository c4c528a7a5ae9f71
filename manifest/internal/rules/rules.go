// Package rules holds the regular expressions that values in a manifest
// must match. The manifest package checks values against them (a user's
// name, an environment variable's name, an octal mode) and the JSON Schema
// generator writes the same expressions into schema.json, so that an
// editor and jailer cannot disagree on what is valid. Each is compiled on
// first use, not at program start: the jail's init runs this binary too
// and should not pay for it.
package rules

import (
	"regexp"
	"sync"
)

// AccountName is a user or group name, as useradd accepts it.
var AccountName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z_][a-z0-9_.-]{0,31}$`) })

// EnvName is an environment variable's name, as POSIX shells accept it.
var EnvName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`) })

// Mode is how a permission mode is written: "0644", "644", "1777" or "0o644".
var Mode = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^0?[0-7]{3,4}$|^0o[0-7]{3,4}$`) })
