#!/usr/bin/env bash
# Entry latency of /bin/true in a jail without root: `jailer enter` run by
# an unprivileged user (a user namespace first, then the namespaces,
# fresh root and hardening of enter's defaults) against bubblewrap run by
# the same user with every namespace (`bwrap --unshare-all --bind JAIL /
# --proc /proc --dev /dev /bin/true`), side by side, interleaved run by run
# so that noise from the rest of the machine hits both alike. The bar:
# jailer at most 1.0x bwrap (medians; issue 12, it was 1.2x). The jail is built by that user too.
#
#   bench/rootless.sh                   # as root: runs as BENCH_USER (default jailer-ci, which .ci/run makes)
#   BENCH_USER=alice bench/rootless.sh
#   bench/rootless.sh                   # as a user: runs as that user
# ROUNDS=9 rounds of RUNS=20 runs each. Needs bin/jailer (make build) and
# bwrap (apt-get install bubblewrap). When jailer enter cannot run without
# root here, it says why and reports bwrap alone (exit 0: a report).
set -euo pipefail
. "$(dirname "$0")/interleave.sh"
ROUNDS=${ROUNDS:-9}
RUNS=${RUNS:-20}

if [ -z "${ROOTLESS_BENCH_WORK:-}" ]; then
  cd "$(dirname "$0")/.."
  JAILER=${JAILER:-bin/jailer}
  [ -x "$JAILER" ] || { echo "bench/rootless.sh: $JAILER missing: make build" >&2; exit 1; }
  command -v bwrap >/dev/null || { echo "bench/rootless.sh: bwrap missing: apt-get install bubblewrap" >&2; exit 1; }
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  chmod 755 "$work"
  cp "$JAILER" "$work/jailer"
  # jailer starts jailer-init beside it, when there is the one built with it.
  if [ -x "$(dirname "$JAILER")/jailer-init" ]; then cp "$(dirname "$JAILER")/jailer-init" "$work/jailer-init"; fi
  cp "$0" "$work/rootless.sh"
  cp "$(dirname "$0")/interleave.sh" "$work/interleave.sh"
  if [ "$(id -u)" = 0 ]; then
    user=${BENCH_USER:-jailer-ci}
    # make bench runs this as root, after the rest: no user, no measure.
    id -u "$user" >/dev/null 2>&1 || { echo "bench/rootless.sh: no user $user to run as, nothing measured (.ci/run makes jailer-ci; or BENCH_USER=NAME)" >&2; exit 0; }
    chown -R "$user:" "$work"
    runuser -u "$user" -- env ROOTLESS_BENCH_WORK="$work" ROUNDS="$ROUNDS" RUNS="$RUNS" HOME="$work" PATH=/usr/bin:/bin bash "$work/rootless.sh"
  else
    ROOTLESS_BENCH_WORK=$work HOME=$work bash "$work/rootless.sh"
  fi
  exit
fi

# As the unprivileged user, in the work directory.
work=$ROOTLESS_BENCH_WORK
J=$work/jail
JAILER=$work/jailer
cat >"$work/true.yaml" <<YAML
version: 1
binaries: [/bin/true]
YAML
"$JAILER" build -q -o "$J" "$work/true.yaml" 2>/dev/null

names=("bwrap --unshare-all" "jailer enter (defaults)")
cmds=(
  "bwrap --unshare-all --bind $J / --proc /proc --dev /dev /bin/true"
  "$JAILER enter --no-tty $J /bin/true"
)
${cmds[0]} >/dev/null 2>&1 </dev/null || { echo "bench/rootless.sh: bwrap does not run as $(id -un) here: ${cmds[0]}" >&2; exit 1; }
n=2
if ! why=$(${cmds[1]} 2>&1 >/dev/null </dev/null); then
  n=1 # report bwrap alone
fi

interleave "$n"

header "$JAILER"
echo "/bin/true in a jail as $(id -un) (uid $(id -u), no root): median of $ROUNDS rounds x $RUNS runs, interleaved"
printf '%-46s %10s %10s\n' tool "median ms" "vs bwrap"
medians "$n"
for ((i = 0; i < n; i++)); do
  printf '%-46s %10.2f %9.2fx\n' "${names[$i]}" "${med[$i]}" "$(echo "scale=3; ${med[$i]} / ${med[0]}" | bc)"
done
if ((n == 1)); then
  echo "${names[1]}: does not run as $(id -un) here: $why"
  echo "jailer enter vs bwrap --unshare-all, without root: no measure (target <= 1.0x): FAIL"
  exit 0
fi
r=$(echo "scale=3; ${med[1]} / ${med[0]}" | bc)
v=FAIL
if (($(echo "$r <= 1.0" | bc))); then v=PASS; fi
echo "jailer enter vs bwrap --unshare-all, without root: ${r}x (target <= 1.0x): $v"
