#!/usr/bin/env bash
# Entry latency of /bin/true in a jail: jailer enter (default namespaces,
# a fresh root per run, /proc, /dev, pivot_root, hardening; and with
# --persist, in the tree itself) against plain chroot, unshare+chroot
# and bubblewrap doing the same mounts, interleaved round by round so that
# noise from the rest of the machine hits every tool alike.
#
#   bench/enter.sh            # ROUNDS=9 rounds of RUNS=20 runs each
# Needs root, bin/jailer (make build), bwrap (apt-get install bubblewrap).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-9}
RUNS=${RUNS:-20}
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

names=("chroot" "unshare -m -u -p -f chroot" "bwrap (pid, uts, /proc, /dev)" "jailer enter" "jailer enter --no-namespaces" "jailer enter --persist")
cmds=(
  "chroot $J /bin/true"
  "unshare -m -u -p -f chroot $J /bin/true"
  "bwrap --bind $J / --unshare-pid --unshare-uts --proc /proc --dev /dev /bin/true"
  "$JAILER enter --no-tty $J /bin/true"
  "$JAILER enter --no-tty --no-namespaces $J /bin/true"
  "$JAILER enter --no-tty --persist $J /bin/true"
)
for extra in nsjail firejail; do
  if command -v "$extra" >/dev/null; then
    case $extra in
      nsjail) names+=("nsjail"); cmds+=("nsjail -Mo -q --chroot $J -- /bin/true") ;;
      firejail) names+=("firejail"); cmds+=("firejail --quiet --noprofile --chroot=$J /bin/true") ;;
    esac
  fi
done

declare -A samples
time_one() { # average ms of RUNS runs of a command
  local cmd=$1 start end i
  start=$EPOCHREALTIME
  for ((i = 0; i < RUNS; i++)); do $cmd >/dev/null 2>&1 </dev/null || { echo "failed: $cmd" >&2; exit 1; }; done
  end=$EPOCHREALTIME
  echo "scale=3; (${end/./} - ${start/./}) / 1000 / $RUNS" | bc
}
for c in "${cmds[@]}"; do $c >/dev/null 2>&1 </dev/null || { echo "bench/enter.sh: this does not run here: $c" >&2; exit 1; }; done
for ((r = 1; r <= ROUNDS; r++)); do
  for i in "${!cmds[@]}"; do samples[$i]+="$(time_one "${cmds[$i]}") "; done
done

median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo "jailer $("$JAILER" version) | $(uname -sr) | $(nproc) CPUs | load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "/bin/true in a jail: median of $ROUNDS rounds x $RUNS runs, interleaved"
bw=$(echo "${samples[2]}" | median)
printf '%-34s %10s %10s\n' tool "median ms" "vs bwrap"
for i in "${!cmds[@]}"; do
  m=$(echo "${samples[$i]}" | median)
  printf '%-34s %10.2f %9.2fx\n' "${names[$i]}" "$m" "$(echo "scale=3; $m / $bw" | bc)"
done
j=$(echo "${samples[3]}" | median)
ratio=$(echo "scale=3; $j / $bw" | bc)
verdict=FAIL; (( $(echo "$ratio <= 1.2" | bc) )) && verdict=PASS
echo "jailer enter vs bwrap: ${ratio}x (target <= 1.2x): $verdict"
p=$(echo "${samples[5]}" | median)
echo "jailer enter (a fresh root per run) vs --persist (the tree itself): $(echo "scale=3; $j / $p" | bc)x"
