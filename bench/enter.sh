#!/usr/bin/env bash
# Entry latency of /bin/true in a jail: jailer enter with its defaults
# (a fresh root, mount, uts, pid, net and ipc namespaces, /proc, /dev,
# pivot_root, seccomp, capabilities dropped, a session of its own) against
# bubblewrap with all of that (`bwrap --unshare-all --new-session
# --die-with-parent --cap-drop ALL --ro-bind JAIL / --tmpfs /tmp --proc
# /proc --dev /dev`), and the opt-outs (--net host --ipc host, and
# --persist) against bwrap with the same namespaces, plain chroot and
# unshare+chroot for scale; interleaved run by run so that noise from the
# rest of the machine hits every tool alike. Then the timeline of one
# enter (JAILER_TIMELINE), step by step, as medians of TIMELINE_RUNS runs,
# and the init's peak resident size. The bars: the defaults at most 1.0x
# that bwrap line, and at most 1.1x the opt-outs.
#
#   bench/enter.sh            # ROUNDS=9 rounds of RUNS=20 runs each, TIMELINE_RUNS=60
# Needs root, bin/jailer (make build), bwrap (apt-get install bubblewrap).
set -euo pipefail
. "$(dirname "$0")/interleave.sh"
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-9}
RUNS=${RUNS:-20}
TIMELINE_RUNS=${TIMELINE_RUNS:-60}
JAILER=${JAILER:-bin/jailer}
[ "$(id -u)" = 0 ] || { echo "bench/enter.sh: needs root (namespaces, mounts)" >&2; exit 1; }
command -v bwrap >/dev/null || { echo "bench/enter.sh: bwrap missing: apt-get install bubblewrap" >&2; exit 1; }
[ -x "$JAILER" ] || { echo "bench/enter.sh: $JAILER missing: make build" >&2; exit 1; }

work=$(mktemp -d /srv/jailer-enter-bench.XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/true.yaml" <<YAML
version: 1
binaries: [/bin/true]
YAML
"$JAILER" build -q -o "$work/jail" "$work/true.yaml"
J=$work/jail

optout="--net host --ipc host"
if "$JAILER" enter --help 2>&1 | grep -q -- '--persist'; then
  optout="--persist $optout"
fi
bw="bwrap --bind $J / --unshare-pid --unshare-uts --proc /proc --dev /dev"
# The isolation of jailer's defaults, as bwrap says it.
bwall="bwrap --unshare-all --new-session --die-with-parent --cap-drop ALL --ro-bind $J / --tmpfs /tmp --proc /proc --dev /dev"
# ref: the row each is compared with (bwrap with the same isolation).
names=("chroot" "unshare -m -u -p -f chroot" "bwrap (pid, uts)" "bwrap (pid, uts, net, ipc)" "bwrap --unshare-all ... (all)"
  "jailer enter (defaults)" "jailer enter $optout" "jailer enter --no-namespaces" "jailer run MANIFEST (up to date)")
ref=(2 2 2 3 4 4 2 2 4)
cmds=(
  "chroot $J /bin/true"
  "unshare -m -u -p -f chroot $J /bin/true"
  "$bw /bin/true"
  "$bw --unshare-net --unshare-ipc /bin/true"
  "$bwall /bin/true"
  "$JAILER enter --no-tty $J /bin/true"
  "$JAILER enter --no-tty $optout $J /bin/true"
  "$JAILER enter --no-tty --no-namespaces $J /bin/true"
  "$JAILER run --no-tty $work/true.yaml -- /bin/true"
)
def=5 opt=6 all=4 run=8
for extra in nsjail firejail; do
  if command -v "$extra" >/dev/null; then
    case $extra in
      nsjail) names+=("nsjail"); ref+=(2); cmds+=("nsjail -Mo -q --chroot $J -- /bin/true") ;;
      firejail) names+=("firejail"); ref+=(2); cmds+=("firejail --quiet --noprofile --chroot=$J /bin/true") ;;
    esac
  fi
done

for c in "${cmds[@]}"; do $c >/dev/null 2>&1 </dev/null || { echo "bench/enter.sh: this does not run here: $c" >&2; exit 1; }; done
n=${#cmds[@]}
interleave "$n"

header "$JAILER"
echo "/bin/true in a jail: median of $ROUNDS rounds x $RUNS runs, interleaved"
medians
printf '%-46s %10s %10s\n' tool "median ms" "vs bwrap"
for i in "${!cmds[@]}"; do
  printf '%-46s %10.2f %9.2fx  (%s)\n' "${names[$i]}" "${med[$i]}" "$(echo "scale=3; ${med[$i]} / ${med[${ref[$i]}]}" | bc)" "${names[${ref[$i]}]}"
done
ratio() { echo "scale=3; $1 / $2" | bc; }
verdict() { if (($(echo "$1 <= $2" | bc))); then echo PASS; else echo FAIL; fi; }
d=$(ratio "${med[$def]}" "${med[$all]}")
echo "jailer enter (defaults) vs bwrap --unshare-all --new-session --die-with-parent --cap-drop ALL ...: ${d}x (target <= 1.0x): $(verdict "$d" 1.0)"
o=$(ratio "${med[$opt]}" "${med[2]}")
echo "jailer enter $optout vs bwrap (pid, uts): ${o}x"
c=$(ratio "${med[$def]}" "${med[$opt]}")
echo "jailer enter (defaults) vs jailer enter $optout: ${c}x (target <= 1.1x): $(verdict "$c" 1.1)"
# run = load the manifest, decide the jail is up to date, then enter.
r=$(echo "scale=3; ${med[$run]} - ${med[$def]}" | bc)
echo "jailer run MANIFEST (up to date) - jailer enter: ${r} ms (target <= 1 ms): $(verdict "$r" 1)"

# The timeline of `jailer enter` with the defaults: each step's median
# (JAILER_TIMELINE carries the moment bash starts jailer, so "exec" to
# "runtime start" is the exec and the Go runtime's start).
echo
echo "timeline of jailer enter (defaults) $J /bin/true: medians of $TIMELINE_RUNS runs, ms"
tl=$work/timeline
: >"$tl"
for ((k = 0; k < TIMELINE_RUNS; k++)); do
  JAILER_TIMELINE=$EPOCHREALTIME $JAILER enter --no-tty "$J" /bin/true 2>>"$tl" >/dev/null </dev/null || { echo "failed: jailer enter with JAILER_TIMELINE" >&2; exit 1; }
done
# Lines: "AT SINCE-PREVIOUS STEP..." and "note NAME: VALUE"; the steps in
# the order of their median ends, each with the time since the one before.
awk -f bench/timeline.awk "$tl"
