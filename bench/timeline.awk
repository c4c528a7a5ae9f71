# The medians of many JAILER_TIMELINE outputs (see jail/timeline),
# concatenated: each step's median end, in the order of those medians, with
# the time since the step before; and each note's median.
#
#   awk -f bench/timeline.awk TIMELINES
$1 == "note" { sub(/^ *note +/, ""); i = match($0, /: [0-9]+$/); k = substr($0, 1, i - 1); nv[k] = nv[k] " " substr($0, i + 2); next }
$1 ~ /^[0-9.]+$/ && NF >= 3 { at = $1; $1 = ""; $2 = ""; sub(/^ +/, ""); a[$0] = a[$0] " " at; if (!($0 in seen)) { seen[$0] = 1; order[++n] = $0 } }
function med(list,   v, m, i, j, t) {
  m = split(list, v, " ")
  for (i = 2; i <= m; i++) { t = v[i]; for (j = i - 1; j >= 1 && v[j] + 0 > t + 0; j--) v[j + 1] = v[j]; v[j + 1] = t }
  return m % 2 ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2
}
END {
  for (i = 1; i <= n; i++) { k = order[i]; ma[k] = med(a[k]) }
  for (i = 2; i <= n; i++) { t = order[i]; for (j = i - 1; j >= 1 && ma[order[j]] > ma[t]; j--) order[j + 1] = order[j]; order[j + 1] = t }
  printf "  %9s %9s  %s\n", "at", "took", "step (took: since the step before, from the medians)"
  for (i = 1; i <= n; i++) { k = order[i]; printf "  %9.3f %9.3f  %s\n", ma[k], ma[k] - (i > 1 ? ma[order[i - 1]] : 0), k }
  for (k in nv) printf "  %s: %s (median)\n", k, med(nv[k])
}
