#!/usr/bin/env bash
# Compare jailer with jailkit's jk_cp, pax-utils' lddtree and a plain `cp -a`
# (the floor) on the same ~100 host programs, in one run, and check the
# targets: a fresh build >= 3x faster than jk_cp and within 1.5x of cp -a; an
# up-to-date rebuild at most 5% of a fresh build (issue 12; it was 10%).
#
#   make build && bench/compare.sh
#
# Environment:
#   ROUNDS=7                    measured rounds (after one warm-up round)
#   BENCH_DIR=/srv/jailer-bench where the trees are written; jk_cp refuses a
#                               world-writable parent, so not under /tmp
#   JAILER=bin/jailer           the jailer binary
#   COUNT=100                   how many programs (bench/binaries.sh)
#   KEEP=1                      keep the trees in BENCH_DIR afterwards
#
# Every round runs each tool once, one after the other, so machine noise hits
# them all alike; the setup of each run (removing the previous tree, sync) is
# not timed. Times are wall clock, from bash's $EPOCHREALTIME (no fork). The
# exit status is 0 whether or not the targets are met: this is a report.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
rounds=${ROUNDS:-7}
bench_dir=${BENCH_DIR:-/srv/jailer-bench}
jailer=${JAILER:-$top/bin/jailer}
manifest=$here/out/bench.yaml
# jk_cp and lddtree are Python programs: run them with the system's python3,
# not a pyenv shim or virtualenv that PATH may put first.
sys_path=/usr/sbin:/usr/bin:/sbin:/bin

die() { echo "compare.sh: $*" >&2; exit 1; }

# --- prerequisites -----------------------------------------------------------
missing=()
PATH=$sys_path command -v jk_cp >/dev/null || missing+=(jailkit)
PATH=$sys_path command -v lddtree >/dev/null || missing+=(pax-utils)
if ((${#missing[@]})); then
	die "missing tools: install them with: apt-get install ${missing[*]}"
fi
if ! PATH=$sys_path lddtree --help >/dev/null 2>&1; then
	die "lddtree does not run (it needs pyelftools): apt-get install python3-pyelftools"
fi
[[ -x $jailer ]] || die "$jailer not found: run make build first"
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive number, not $rounds"
[[ $bench_dir == /* ]] || die "BENCH_DIR must be absolute"
mkdir -p -m 0755 "$bench_dir"
d=$bench_dir
while :; do
	if [[ -n $(find "$d" -maxdepth 0 -perm -0002) ]]; then
		die "$d is world-writable and jk_cp refuses to copy below it: set BENCH_DIR (e.g. /srv/jailer-bench)"
	fi
	[[ $d == / ]] && break
	d=$(dirname "$d")
done

echo "choosing programs (bench/binaries.sh)..." >&2
mapfile -t bins < <("$here/binaries.sh" "$manifest")
((${#bins[@]} > 0)) || die "no programs chosen"

B=$bench_dir
jail=$B/jail
# --- one prepare (untimed) and one command (timed) per tool -----------------
tools=(fresh uptodate force jkcp lddtree cp)
declare -A label=(
	[fresh]="jailer build (fresh)"
	[uptodate]="jailer build (up to date)"
	[force]="jailer build --force"
	[jkcp]="jk_cp -j"
	[lddtree]="lddtree --copy-to-tree"
	[cp]="cp -a of jailer's tree"
)
prep_fresh() { rm -rf "$jail" "$jail.jailer.lock" "$B"/.jail.*; } # .jail.jailer.flock, staging
prep_uptodate() { :; }
prep_force() { :; }
prep_jkcp() { rm -rf "$B/jkcp"; mkdir -m 0755 "$B/jkcp"; }
prep_lddtree() { rm -rf "$B/lddtree"; }
prep_cp() { rm -rf "$B/cp"; }
run_fresh() { "$jailer" build -q -o "$jail" "$manifest"; }
run_uptodate() { "$jailer" build -q -o "$jail" "$manifest"; }
run_force() { "$jailer" build --force -q -o "$jail" "$manifest"; }
run_jkcp() { PATH=$sys_path jk_cp -j "$B/jkcp" "${bins[@]}" >/dev/null; }
run_lddtree() { PATH=$sys_path lddtree --copy-to-tree "$B/lddtree" "${bins[@]}" >/dev/null; }
run_cp() { cp -a "$jail" "$B/cp"; }

declare -A samples=() # tool -> microseconds, space-separated
# measure TOOL: prepare, sync, wake the machine, time the command; sets
# $us. Right after sync any program pays the machine's wake from idle
# (/bin/true 1.4-2.5 ms against 0.9 in a row, `jailer version` 3.4-8 ms
# against 2.5): most of an up-to-date build of a few milliseconds, little
# of a build of sixty. An untimed `jailer version` before each timed
# command, whatever the tool, leaves each its own time.
measure() {
	"prep_$1"
	sync
	"$jailer" version >/dev/null
	local t0=$EPOCHREALTIME
	"run_$1" || die "${label[$1]} failed"
	local t1=$EPOCHREALTIME
	us=$((${t1/./} - ${t0/./}))
}

# --- warm-up: fills the page cache with every source file, checks outputs ----
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "warm-up round..." >&2
for t in "${tools[@]}"; do measure "$t"; done
"$jailer" build --json -o "$jail" "$manifest" | grep -q '"up_to_date": *true' ||
	die "a second jailer build is not up to date: the up-to-date timing would be meaningless"
for t in jkcp lddtree cp; do
	[[ -n $(find "$B/$t" -name libc.so.6 -print -quit) ]] || die "${label[$t]} copied no libc.so.6"
done

for ((r = 1; r <= rounds; r++)); do
	echo "round $r/$rounds..." >&2
	for t in "${tools[@]}"; do
		measure "$t"
		samples[$t]+="$us "
	done
done

# --- report --------------------------------------------------------------------
# stats TOOL: "median min" in ms.
stats() {
	tr ' ' '\n' <<<"${samples[$1]}" | grep . | sort -n | awk '
		{ v[NR] = $1 }
		END {
			m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%.1f %.1f\n", m / 1000, v[1] / 1000
		}'
}
# tree DIR: "files symlinks MiB"
tree() {
	local files links bytes
	files=$(find "$1" -type f | wc -l)
	links=$(find "$1" -type l | wc -l)
	bytes=$(find "$1" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
	awk -v f="$files" -v l="$links" -v b="$bytes" 'BEGIN { printf "%6d files %5d symlinks %8.1f MiB\n", f, l, b / 1048576 }'
}

declare -A med=() min=()
for t in "${tools[@]}"; do read -r "med[$t]" "min[$t]" < <(stats "$t"); done

echo
echo "$("$jailer" version 2>/dev/null | head -n1) | $(uname -sr) | $(nproc) CPUs | $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "${#bins[@]} programs from /usr/bin ($manifest), trees in $B ($(df --output=fstype "$B" | tail -n1)), $rounds rounds after 1 warm-up"
echo "load average before: $load_before, after: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine makes the runs noisy)"
echo
printf '%-28s %10s %10s %12s\n' tool "median ms" "min ms" "vs fresh"
for t in "${tools[@]}"; do
	printf '%-28s %10.1f %10.1f %11.2fx\n' "${label[$t]}" "${med[$t]}" "${min[$t]}" \
		"$(awk -v a="${med[$t]}" -v b="${med[fresh]}" 'BEGIN { print a / b }')"
done
echo
echo "trees:"
printf '  %-22s %s\n' "jailer" "$(tree "$jail")"
printf '  %-22s %s\n' "jk_cp" "$(tree "$B/jkcp")"
printf '  %-22s %s\n' "lddtree" "$(tree "$B/lddtree")"
printf '  %-22s %s\n' "cp -a" "$(tree "$B/cp")"
echo
echo "samples (ms, in round order):"
for t in "${tools[@]}"; do
	printf '  %-26s' "${label[$t]}"
	for v in ${samples[$t]}; do printf ' %8.1f' "$(awk -v v="$v" 'BEGIN { print v / 1000 }')"; done
	echo
done
echo
# The targets, from the medians.
awk -v jk="${med[jkcp]}" -v fr="${med[fresh]}" -v fl="${med[cp]}" -v up="${med[uptodate]}" 'BEGIN {
	r = jk / fr
	printf "fresh vs jk_cp:        %6.2fx faster          (target >= 3x):    %s\n", r, (r >= 3 ? "PASS" : "FAIL")
	r = fr / fl
	printf "fresh vs cp -a floor:  %6.2fx the floor       (target <= 1.5x):  %s\n", r, (r <= 1.5 ? "PASS" : "FAIL")
	r = 100 * up / fr
	printf "up-to-date vs fresh:   %6.1f%% of a fresh build (target <= 5%%):   %s\n", r, (r <= 5 ? "PASS" : "FAIL")
}'
if [[ -z ${KEEP:-} ]]; then
	prep_fresh
	rm -rf "$B/jkcp" "$B/lddtree" "$B/cp"
fi
