#!/usr/bin/env bash
# The content store (--link store) and push, against their bars:
#
#   - 10 jails from 10 manifests that share bash, coreutils and python3 with
#     its standard library, each with extra files of its own, built with
#     --link store: the disk they and the store use, hardlinks counted once
#     (one du run over all of them), at most 1.15x one jail built by copying;
#   - a new jail whose files are all in the store builds in at most half the
#     time of a copying build of it (medians of interleaved fresh builds,
#     host cache warm for both);
#   - pushing an unchanged jail again (jailer export --push) uploads no layer:
#     the registry's access log shows no blob upload for the second push.
#
#   make build && bench/store.sh
#
# Environment:
#   ROUNDS=7                          measured rounds of the timed builds
#   BENCH_DIR=/srv/jailer-bench/store where the jails and the store go (one
#                                     filesystem: a store elsewhere is copied)
#   JAILER=bin/jailer                 the jailer binary
#   KEEP=1                            keep BENCH_DIR afterwards
#
# Needs root (python's standard library has files only root reads, and
# builds give declared owners), python3, and for the push Debian's
# docker-registry (apt-get install docker-registry). The exit status is 0
# whether or not the bars are met: this is a report.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
rounds=${ROUNDS:-7}
B=${BENCH_DIR:-/srv/jailer-bench/store}
jailer=${JAILER:-$top/bin/jailer}
store=$B/store

die() { echo "store.sh: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "run as root (sudo bench/store.sh)"
[[ -x $jailer ]] || die "$jailer not found: run make build first"
[[ -x /usr/bin/python3 ]] || die "/usr/bin/python3 is missing: apt-get install python3"
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive number, not $rounds"
[[ $B == /* ]] || die "BENCH_DIR must be absolute"

# --- the manifests: one base, ten jails with extra files of their own -------
rm -rf "$B"
mkdir -p -m 0755 "$B"
mapfile -t coreutils < <(dpkg -L coreutils | grep '^/usr/bin/[a-z]' | sort)
{
	echo "version: 1"
	echo "layout: preserve"
	echo "binaries: [/usr/bin/bash, /usr/bin/python3$(printf ', %s' "${coreutils[@]}")]"
	echo "profiles: [python, locale]"
} >"$B/base.yaml"
for i in $(seq 1 10); do
	mkdir -p "$B/extra$i"
	for f in $(seq 1 16); do head -c 16384 /dev/urandom >"$B/extra$i/data$f.bin"; done
	printf 'import sys\nprint("suite %d", sys.version_info[:2])\n' "$i" >"$B/extra$i/suite.py"
	printf 'version: 1\nname: suite%d\ninclude: [./base.yaml]\nfiles:\n  - { src: ./extra%d, dest: /work }\n' "$i" "$i" >"$B/m$i.yaml"
done

echo "building one jail by copying, and 10 with --link store..." >&2
"$jailer" build -q -o "$B/copy" "$B/m1.yaml"
for i in $(seq 1 10); do "$jailer" build -q --link store --store "$store" -o "$B/j$i" "$B/m$i.yaml"; done
"$jailer" enter --no-tty "$B/j3" /usr/bin/python3 /work/suite.py >/dev/null || die "jail j3 does not run its suite"
for i in 1 10; do
	out=$("$jailer" check "$B/j$i") || die "jailer check $B/j$i: $out"
done

# du counts a file with several links once per run: one run over all.
kib() { du -s -k "$@" | awk '{ s += $1 } END { print s }'; }
one=$(kib "$B/copy")
all=$(du -s -k -c "$store" "$B"/j{1..10} | awk '$2 == "total" { print $1 }')
naive=0
for i in $(seq 1 10); do naive=$((naive + $(kib "$B/j$i"))); done

# --- timed: a new jail whose files are all in the store, against a copy ------
declare -A samples=()
measure() { # KIND: a fresh build of m1 into a new directory; sets $us
	rm -rf "$B/new-$1" "$B/new-$1.jailer.lock" "$B"/.new-"$1".*
	sync
	local t0=$EPOCHREALTIME
	if [[ $1 == store ]]; then
		"$jailer" build -q --link store --store "$store" -o "$B/new-store" "$B/m1.yaml"
	else
		"$jailer" build -q -o "$B/new-copy" "$B/m1.yaml"
	fi
	local t1=$EPOCHREALTIME
	us=$((${t1/./} - ${t0/./}))
}
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
measure store
measure copy # warm-up
for ((r = 1; r <= rounds; r++)); do
	echo "round $r/$rounds..." >&2
	for k in store copy; do
		measure "$k"
		samples[$k]+="$us "
	done
done
median() { tr ' ' '\n' <<<"${samples[$1]}" | grep . | sort -n | awk '{ v[NR] = $1 } END { printf "%.1f\n", (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) / 1000 }'; }
med_store=$(median store)
med_copy=$(median copy)

# --- push: twice, counting the uploads in the registry's access log ---------
push_report="push: docker-registry is not installed (apt-get install docker-registry): not measured"
if command -v docker-registry >/dev/null; then
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	mkdir -p "$B/registry"
	cat >"$B/registry/config.yml" <<EOF
version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $B/registry/storage
http:
  addr: 127.0.0.1:$port
EOF
	env -i PATH=/usr/bin:/bin docker-registry serve "$B/registry/config.yml" >"$B/registry/log" 2>&1 &
	registry=$!
	trap 'kill $registry 2>/dev/null' EXIT
	for _ in $(seq 100); do
		python3 -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$port/v2/', timeout=1)" 2>/dev/null && break
		sleep 0.1
	done
	ref=127.0.0.1:$port/bench/suite1:1
	uploads() { grep -cE '"(POST|PUT|PATCH) /v2/[^ ]*/blobs/uploads/' "$B/registry/log" || true; }
	t0=$EPOCHREALTIME
	first=$("$jailer" export "$B/j1" --push "$ref" --insecure --json)
	t1=$EPOCHREALTIME
	sleep 1 # the access log is written after each response
	before=$(uploads)
	second=$("$jailer" export "$B/j1" --push "$ref" --insecure --json)
	t2=$EPOCHREALTIME
	sleep 1
	after=$(uploads)
	d1=$(grep -o '"digest":"[^"]*"' <<<"$first")
	d2=$(grep -o '"digest":"[^"]*"' <<<"$second")
	kill $registry
	push_report=$(awk -v b="$before" -v a="$after" -v d1="$d1" -v d2="$d2" -v f="$(((${t1/./} - ${t0/./}) / 1000))" -v s="$(((${t2/./} - ${t1/./}) / 1000))" 'BEGIN {
		printf "push of j1: first %d ms (%d upload requests), again %d ms (%d upload requests); digests %s\n", f, b, s, a - b, (d1 == d2 ? "equal" : "DIFFER")
		printf "push unchanged:        %6d uploads             (target 0):        %s", a - b, (a - b == 0 && d1 == d2 ? "PASS" : "FAIL")
	}')
fi

# --- report ------------------------------------------------------------------
echo
echo "$("$jailer" version 2>/dev/null | head -n1) | $(uname -sr) | $(nproc) CPUs | $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "10 jails of bash, python3 with its standard library, ${#coreutils[@]} coreutils programs and 16 extra files each, in $B ($(df --output=fstype "$B" | tail -n1))"
echo "$("$jailer" info "$B/j1" | grep -E '^(contents|files):')"
echo "load average before the timed builds: $load_before, after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
printf 'one jail, copied:                      %8.1f MiB\n' "$(awk -v k="$one" 'BEGIN { print k / 1024 }')"
printf '10 jails and the store (one du run):   %8.1f MiB\n' "$(awk -v k="$all" 'BEGIN { print k / 1024 }')"
printf '10 jails, one du run each (naive):     %8.1f MiB\n' "$(awk -v k="$naive" 'BEGIN { print k / 1024 }')"
printf 'fresh build of a jail all in the store: %7.1f ms (median), samples:%s\n' "$med_store" "$(for v in ${samples[store]}; do printf ' %.0f' "$(awk -v v="$v" 'BEGIN { print v / 1000 }')"; done)"
printf 'fresh build of it by copying:          %8.1f ms (median), samples:%s\n' "$med_copy" "$(for v in ${samples[copy]}; do printf ' %.0f' "$(awk -v v="$v" 'BEGIN { print v / 1000 }')"; done)"
echo "$push_report" | head -n1
echo
awk -v all="$all" -v one="$one" -v s="$med_store" -v c="$med_copy" 'BEGIN {
	r = all / one
	printf "10 jails vs one:       %6.2fx the disk of one  (target <= 1.15x): %s\n", r, (r <= 1.15 ? "PASS" : "FAIL")
	r = s / c
	printf "stored vs copied:      %6.2fx the copying time (target <= 0.5x):  %s\n", r, (r <= 0.5 ? "PASS" : "FAIL")
}'
[[ $push_report == push:* ]] && echo "$push_report" || echo "$push_report" | tail -n1
if [[ -z ${KEEP:-} ]]; then
	rm -rf "$B"
fi
