#!/usr/bin/env bash
# Write a jailer manifest of about COUNT (default 100) dynamically linked host
# programs from /usr/bin, and print their paths, one a line, on stdout.
#
#   bench/binaries.sh [MANIFEST]      (default: bench/out/bench.yaml)
#
# The choice is deterministic for a given host: the regular (not symlinked)
# ELF files of /usr/bin, sorted bytewise, are sampled at COUNT evenly spaced
# points; from each point the first program not yet chosen whose libraries
# all resolve (`ldd` exits 0, reports no "not found" and it is not static)
# is taken. jail/bench_test.go makes the same choice in Go.
set -euo pipefail
export LC_ALL=C

count=${COUNT:-100}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
manifest=${1:-$here/out/bench.yaml}

candidates=()
for f in /usr/bin/*; do
	[[ -f $f && ! -L $f && -r $f ]] || continue
	magic=
	IFS= read -r -N4 magic <"$f" 2>/dev/null || true
	[[ $magic == $'\x7fELF' ]] && candidates+=("$f")
done
n=${#candidates[@]}
if ((n < count)); then
	echo "binaries.sh: only $n ELF programs in /usr/bin, wanted $count" >&2
	count=$n
fi

# usable FILE: dynamically linked and every library found.
usable() {
	local out
	out=$(ldd "$1" 2>&1) || return 1
	[[ $out != *"not found"* && $out != *"statically linked"* && $out != *"not a dynamic executable"* ]]
}

declare -A taken=()
chosen=()
for ((i = 0; i < count; i++)); do
	for ((j = i * n / count; j < n; j++)); do
		f=${candidates[j]}
		[[ -z ${taken[$f]:-} ]] || continue
		taken[$f]=1 # tried: never tried again, usable or not
		if usable "$f"; then
			chosen+=("$f")
			break
		fi
	done
done

mkdir -p "$(dirname "$manifest")"
{
	echo "# Written by bench/binaries.sh: ${#chosen[@]} of $n ELF programs in /usr/bin."
	echo "version: 1"
	echo "name: bench"
	echo "binaries:"
	printf '  - "%s"\n' "${chosen[@]}"
} >"$manifest.tmp"
mv "$manifest.tmp" "$manifest"
printf '%s\n' "${chosen[@]}"
