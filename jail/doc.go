// Package jail is the home of jailer's jail packages; it holds no code of
// its own, only the end-to-end tests (the examples, manifests as users
// write them). What lives where:
//
//   - plan: the data a build follows (every path, its kind, mode, source
//     and reason), printed by `jailer plan`.
//   - planner: turns a manifest into a plan: binaries and their libraries,
//     host trees, Debian packages, profiles, accounts, the layout's links.
//   - lockfile: the record beside a built tree (what it holds, from what),
//     the one decision whether a jail is stale, and a run's hold on its tree.
//   - build: applies a plan into a staging tree and swaps it in; deletes
//     old trees no run holds (gc).
//   - store: the content store of --link store: each file once, named by
//     its sum, mode, owner and mtime, hardlinked into jails; its sweep.
//   - enter: runs a command in a jail: namespaces, the PID-1 init, mounts,
//     seccomp, cgroups, the terminal.
//   - inspect: check, info and graph: looks at a jail without running it.
//   - export: a jail as a tar archive or a container image, or pushed to
//     a registry.
//   - trace: runs a command under ptrace and suggests what the jail lacks.
//   - internal/elfdeps: ELF reading, the host loader's answers, the host cache.
//   - internal/jailfs: the one way to resolve a path inside a jail.
package jail
