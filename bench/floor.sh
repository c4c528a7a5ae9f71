#!/usr/bin/env bash
# The floor under bench/enter.sh's bar: how fast can a jail with jailer's
# default isolation start when nothing else is done? bench/floor/init.c
# is a static C init that does only what jailer's init does by default
# (fresh overlay root, /proc and its masks, /dev, pivot_root, hostname,
# network namespace, capabilities, no_new_privs, a seccomp filter of
# jailer's size, PID 1's wait); it is started by a C front end
# (bench/floor/cfront.c: clone3 and wait, as bwrap does) and by the least
# Go front end (bench/floor/gofront). Both run /bin/true in the same jail
# as `bwrap --unshare-all ...` and `jailer enter` with its defaults,
# interleaved run by run (bench/interleave.sh). The Go row is the best a
# jailer whose front end is Go could do with a C init and no CLI, lock,
# cgroup or register of runs: when it is above bwrap, so is jailer.
#
#   bench/floor.sh            # ROUNDS=9 rounds of RUNS=20 runs each
# Needs root, gcc (static libc: libc6-dev), bwrap, bc, bin/jailer (make
# build). bwrap --unshare-all, as root, also makes user and cgroup
# namespaces, and neither an overlay nor a seccomp filter: the work
# differs a little; the rows compare starts, not features.
set -euo pipefail
. "$(dirname "$0")/interleave.sh"
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-9}
RUNS=${RUNS:-20}
JAILER=${JAILER:-bin/jailer}
GO=${GO:-go}
[ "$(id -u)" = 0 ] || { echo "bench/floor.sh: needs root (namespaces, mounts)" >&2; exit 1; }
for t in bwrap gcc bc; do
  command -v $t >/dev/null || { echo "bench/floor.sh: $t missing: apt-get install bubblewrap gcc libc6-dev bc" >&2; exit 1; }
done
[ -x "$JAILER" ] || { echo "bench/floor.sh: $JAILER missing: make build" >&2; exit 1; }

work=$(mktemp -d /srv/jailer-floor-bench.XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$work"' EXIT
gcc -O2 -static -Wall -o "$work/floor-init" bench/floor/init.c
gcc -O2 -static -Wall -o "$work/floor-cfront" bench/floor/cfront.c
CGO_ENABLED=0 "$GO" build -trimpath -ldflags '-s -w' -o "$work/floor-gofront" ./bench/floor/gofront
printf 'version: 1\nbinaries: [/bin/true]\n' >"$work/true.yaml"
"$JAILER" build -q -o "$work/jail" "$work/true.yaml"
J=$work/jail
mkdir "$work/scratch"

names=("bwrap --unshare-all ... (all)" "C front end + C init (the floor)" "Go front end + C init" "jailer enter (defaults)")
cmds=(
  "bwrap --unshare-all --new-session --die-with-parent --cap-drop ALL --ro-bind $J / --tmpfs /tmp --proc /proc --dev /dev /bin/true"
  "$work/floor-cfront $work/floor-init $J $work/scratch /bin/true"
  "$work/floor-gofront $work/floor-init $J $work/scratch /bin/true"
  "$JAILER enter --no-tty $J /bin/true"
)
for c in "${cmds[@]}"; do $c >/dev/null 2>&1 </dev/null || { echo "bench/floor.sh: this does not run here: $c" >&2; exit 1; }; done
interleave ${#cmds[@]}

header "$JAILER"
echo "/bin/true with jailer's default isolation: median of $ROUNDS rounds x $RUNS runs, interleaved"
medians
printf '%-40s %10s %10s\n' start "median ms" "vs bwrap"
for i in "${!cmds[@]}"; do
  printf '%-40s %10.2f %9.2fx\n' "${names[$i]}" "${med[$i]}" "$(echo "scale=3; ${med[$i]} / ${med[0]}" | bc)"
done
printf 'a Go front end costs %.2f ms over a C one; with nothing else to do it is %.2fx bwrap\n' "$(echo "${med[2]} - ${med[1]}" | bc)" "$(echo "scale=3; ${med[2]} / ${med[0]}" | bc)"
