//go:build linux

// Package jailinit is the jail's init: the process that jailer starts in
// the jail's new namespaces, which builds the jail's mount tree, pivots
// into it, drops privileges, starts the command and stays its PID 1
// (reaping, forwarding signals) until it exits. Package enter is the other
// side, and its package comment tells the whole sequence, step by step.
//
// The init is a program of its own, cmd/jailer-init, which links this
// package and little else: it starts in a fraction of the time jailer
// itself takes, whose every package (YAML, the manifest, build, export,
// the CLI) would be initialised again for each run. Where jailer-init is
// missing (go test binaries; jailer built without it), jailer starts
// itself as the init, and its main hands over to Main at once (IsInit).
//
// Files: init.go, the sequence and PID 1; config.go, what jailer sends
// (Config, in an encoding of its own: the init links no encoding/json);
// mount.go and overlay.go, the mount tree; process.go, what the command
// inherits; seccomp.go, the filter; pids.go, how the command alone joins
// its pids cgroup; exec.go, the commands jailer exec asks for while the
// jail runs.
package jailinit
