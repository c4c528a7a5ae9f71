# Sourced by bench/enter.sh, bench/floor.sh and bench/rootless.sh: the
# measuring loop they share, and the lines of their reports that are alike.
#
# interleave N: runs the first N of the commands in cmds, RUNS times each
# per round for ROUNDS rounds, one run of each in turn, each round
# starting at the next command (a network namespace is torn down in the
# background after its run, and a run that creates one right after a
# burst of others waits on that teardown; taking turns spreads it over
# every command alike); samples[i] gets one mean per round, in ms.
interleave() {
  local n=$1 r k j i start end
  declare -gA samples=()
  for ((r = 0; r < ROUNDS; r++)); do
    local -A sum=()
    for ((k = 0; k < RUNS; k++)); do
      for ((j = 0; j < n; j++)); do
        i=$(((j + r) % n))
        start=$EPOCHREALTIME
        ${cmds[$i]} >/dev/null 2>&1 </dev/null || { echo "failed: ${cmds[$i]}" >&2; exit 1; }
        end=$EPOCHREALTIME
        sum[$i]=$((${sum[$i]:-0} + ${end/./} - ${start/./}))
      done
    done
    for ((i = 0; i < n; i++)); do samples[$i]+="$(echo "scale=3; ${sum[$i]} / 1000 / $RUNS" | bc) "; done
  done
}

# median: the median of the numbers on stdin (space or line separated).
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# header JAILER: what ran on what machine, and how busy it was.
header() { echo "$("$1" version) | $(uname -sr) | $(nproc) CPUs | load $(cut -d' ' -f1-3 /proc/loadavg)"; }

# medians: med[i], the median of samples[i], for each of the first N (the
# argument, else every one of cmds).
medians() {
  local i n=${1:-${#cmds[@]}}
  declare -gA med=()
  for ((i = 0; i < n; i++)); do med[$i]=$(echo "${samples[$i]}" | median); done
}
