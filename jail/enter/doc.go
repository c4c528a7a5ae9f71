//go:build linux

// Package enter runs a command inside a built jail: new namespaces, a
// PID-1 init of jailer's own, a mount tree of the jail's, dropped
// privileges, a seccomp filter, cgroup limits, a terminal of its own.
// Callers take the jail's recorded settings (Defaults, FromLock), change
// what they must, and call Run; the jailer binary must hand over to
// RunInit when IsInit says it was started as a jail's init.
//
// Run starts the jail's init (package jailinit) in the new namespaces, so
// the process that mounts, pivots and drops privileges is a fresh one
// that has done nothing else: jailer-init, the small program built with
// jailer and installed beside it, or where there is none, jailer itself
// (initprog.go says which). The two sides talk through two pipes: the
// init reads its config (jailinit.Config, in an encoding of its own) on
// fd 3 until EOF, and answers on fd 4 with "0 started PID" or an exit
// status and why the command did not start.
//
// # Where things are
//
//   - run.go: Run, the parent's side, step by step; start.go: the init's
//     config (command, user, environment from the jail's own /etc/passwd)
//     and its start in namespaces (clone flags, uid maps); initprog.go:
//     which program the init is.
//   - jailinit (a package of its own, which cmd/jailer-init links with
//     little else): the init. init.go, the sequence and PID 1; mount.go,
//     every mount it makes (/proc, /dev, the tmpfs and bind mounts,
//     pivot_root); overlay.go, the fresh root of every run (the tree as
//     the read-only lower layer of an overlay, its writes on a tmpfs of
//     the run's own); process.go, what the command inherits (hostname,
//     loopback, rlimits, capabilities, no_new_privs); seccomp.go, the
//     seccomp filter; pids.go, the command's hop into its pids cgroup.
//   - changes.go, results.go: what a run leaves on the host: its changes
//     (--keep-changes), its outputs (--output), its statistics (--stats),
//     all of it the invoking user's.
//   - targets.go: with --persist, mount targets the tree lacks, made
//     before a run and removed after it (its file comment explains the
//     locking).
//   - hold.go: the run's hold on the tree it enters (lockfile.Hold), so
//     that a rebuild leaves that tree whole until the init has exited.
//   - register.go: the run's record for jailer ps, exec and stop (package
//     runs) and the socket its init takes jailer exec on; exec.go:
//     jailer exec's side (the init's is jailinit/exec.go).
//   - cgroup.go: memory, pids and CPU limits (cgroup v2, or v1 per
//     controller), and how the command alone joins the pids cgroup;
//     tty.go: the pty of an interactive command.
//   - usernet.go: the user-mode network (--net user, --publish):
//     slirp4netns on the jail's network namespace, started and ended by
//     the parent (its file comment has the sequence);
//   - rootless.go: runs without root: the user namespace and how it
//     maps ids (the caller's subordinate range through newuidmap, or the
//     caller alone), the declared owners in the fresh root, HostRootless
//     (what this host allows the caller, for jailer doctor); save.go: the
//     helper that saves a rootless run's results in a namespace like its.
//
// # The parent's side (Run, run.go)
//
//  1. prepare: refuse a directory or an O_PATH descriptor as stdin,
//     stdout or stderr (a way out of any chroot), validate the options,
//     resolve the jail directory, and work out the init's config;
//     without root, add a user namespace, check that it maps the
//     command's ids, and list the owners the init gives in the fresh
//     root (rootless.go);
//  2. with --persist, claim the mount targets the tree lacks: make them
//     now, remove them after the last concurrent run (a fresh root gets
//     them in its upper layer, and a plain chroot none);
//  3. make the --output directories, the socket the init hands the run's
//     changes over on (--keep-changes), the cgroups for the limits (the
//     pids limit, 4096 unless told otherwise, on a child cgroup that only
//     the command joins; the memory peak of --stats), and a pty when
//     interactive;
//  4. lock the OS thread (Pdeathsig fires when the forking thread ends) and
//     start the init with the namespaces' clone flags, in a session of
//     its own (not the caller's autogroup, terminal or process group), and
//     in the cgroups on v1 (the thread steps into them for the fork, which
//     is cheap where moving the init would wait for an RCU grace period);
//     it blocks reading its config; without root and with a subordinate
//     range, write its uid and gid maps with newuidmap and newgidmap;
//  5. admit it: hold the tree (hold.go) while the init, waiting for its
//     config, has not resolved the tree's path yet; put it in the
//     cgroups (v2), let a tracer attach (jailer trace), send the config
//     and close the pipe, so the init runs only once it is contained;
//     record the run for jailer ps (register.go: its exec socket was made
//     in step 3 and handed to the init, its record is removed in step 9);
//  6. watch: forward SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2
//     to the init; kill the jail on the timeout or when ctx ends;
//  7. wait: read the init's report, wait for it to exit (through the
//     tracer when there is one), and give the verdict: the command's
//     status, its start failure, ExitTimeout, or an OOM kill;
//  8. save the results, now that nothing in the jail runs: the changes
//     from the upper layer the init handed over, the outputs handed to
//     the invoker, the statistics (without root, the changes and outputs
//     through a helper in a user namespace that maps the run's ids,
//     save.go);
//  9. clean up in reverse: stop watching, let go of the tree, give back
//     the terminal, remove the cgroups, release the mount targets.
//
// # The init's side (jailinit.Main, jailinit/init.go)
//
//  1. lock itself to one OS thread: no_new_privs, the capability bounding
//     set and seccomp are per thread, and the command is forked from it;
//     start catching the signals it forwards (on a goroutine of their
//     own, while it goes on: they are caught before the command starts);
//  2. mark every inherited fd above 4 close-on-exec (an inherited
//     directory fd is a classic chroot escape) and read the config until
//     the parent closes the pipe;
//  3. make all mounts private; mount the run's fresh root over the
//     tree's path (a tmpfs of --tmp-size, then an overlay of the tree and
//     that tmpfs; with --keep-changes, send the parent the upper
//     directory; without root, give the declared owners their entries
//     in it), or with --persist bind-mount the jail onto itself and
//     make it read-only if asked; mount /proc (only with a PID namespace,
//     with the machine-wide parts masked), a minimal /dev, the tmpfs and
//     bind mounts, the outputs (nosuid, nodev); make a fresh root
//     read-only last if asked; every target is opened component by
//     component without following symlinks and mounted through its fd
//     (in a fresh root missing targets are made in its upper layer; with
//     --persist the parent made them, and the init makes only those
//     inside its own mounts);
//  4. pivot_root into the jail, detach the old root, and check that "/"
//     is the jail;
//  5. check that the working directory is one (a missing one would
//     otherwise read as a missing command);
//  6. set the hostname, join the network namespace of the jail's own (made
//     with loopback up on a thread of its own while steps 3 to 5 ran: it
//     takes the kernel about half a millisecond), set rlimits;
//  7. make itself non-dumpable (so /proc/1/exe, /proc/1/root and ptrace of
//     it are closed to the jail), empty its ambient and inheritable
//     capabilities (a rootless init starts with all of them), drop
//     capabilities from the bounding set (among them SETFCAP, FSETID and
//     NET_ADMIN), set no_new_privs and
//     install the seccomp filter (no setuid or setgid file made in any
//     way; ptrace is allowed among the jail's own processes when it has a
//     PID namespace);
//  8. fork the command in a new session with the requested user, groups
//     (not set where the namespace denies setgroups), directory and
//     environment (from a thread that steps into the pids
//     cgroup for the fork, so that only the command counts against the
//     limit), and report on fd 4 that it started;
//  9. as PID 1, forward signals to the command, reap every zombie (a
//     blocking wait4, which returns the moment the command exits), and
//     exit with the command's status (128+N when signal N killed it); the
//     kernel then kills whatever else is left in the PID namespace. With
//     an exec socket (a run jailer recorded), a reaper goroutine waits
//     instead, and the main thread forks what jailer exec asks for, as
//     it forked the command (jailinit/exec.go).
//
// Without root the same sequence runs in a user namespace of the run's
// own, made in the same clone (see rootless.go for how ids map); limits
// need a cgroup v2 subtree delegated to the caller, and a limit asked
// for without one is refused. NoNamespaces needs root.
//
// With NoNamespaces the init only chroots (into the tree itself: no
// fresh root without a mount namespace), sets rlimits, makes itself
// non-dumpable and starts the command (it is not PID 1 then: it forwards
// signals to the command's process group and waits for the command): a
// baseline for comparison, not a sandbox.
//
// # Linux only
//
// Everything here is Linux system calls (namespaces, pivot_root,
// openat2, mount_setattr, seccomp), and so is the rest of jailer. Rather
// than _linux file suffixes, which suggest variants for other systems
// that do not exist, every file carries a //go:build linux line: on
// another system the package is plainly excluded from the build. The
// seccomp filter is written for little-endian architectures (amd64,
// arm64, riscv64, ppc64le): on any other, entering a jail fails with an
// error rather than run under a filter that reads the wrong words.
package enter
