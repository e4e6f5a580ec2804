#!/usr/bin/env bash
# Times `sole run --lock F -- true` against util-linux `flock -n F true`,
# both as whole processes started from this shell, and prints the ratio.
# Target: sole within 1.25x of flock(1).
#
#   bench/flock-ratio.sh [RUNS]     (default 2000 runs of each, in rounds)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-2000}
rounds=10
per=$((runs / rounds))
[ "$per" -ge 1 ] || { echo "flock-ratio: RUNS must be at least $rounds" >&2; exit 2; }
command -v flock >/dev/null || { echo "flock-ratio: flock(1) not found (Debian package util-linux)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -trimpath -o "$tmp/sole" ./cmd/sole
sole="$tmp/sole"
lock="$tmp/bench.lock"
truebin=$(command -v true)

now() { date +%s%N; }
loop_sole() { local i; for ((i = 0; i < per; i++)); do "$sole" run --lock "$lock" -- "$truebin"; done; }
loop_flock() { local i; for ((i = 0; i < per; i++)); do flock -n "$lock" "$truebin"; done; }

# Warm up both, then alternate rounds so that drift of the machine's load
# hits both alike; report the median of the per-round ratios.
loop_sole; loop_flock
ratios=()
tsole=0 tflock=0
for ((r = 0; r < rounds; r++)); do
  t0=$(now); loop_flock; t1=$(now); loop_sole; t2=$(now)
  f=$((t1 - t0)) s=$((t2 - t1))
  tflock=$((tflock + f)) tsole=$((tsole + s))
  ratios+=("$(awk -v s="$s" -v f="$f" 'BEGIN { printf "%.4f", s / f }')")
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.4f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
n=$((per * rounds))
awk -v n="$n" -v s="$tsole" -v f="$tflock" -v m="$median" 'BEGIN {
  printf "flock -n F true:          %8.1f us/run (%d runs)\n", f / n / 1000, n
  printf "sole run --lock F -- true: %8.1f us/run (%d runs)\n", s / n / 1000, n
  printf "ratio sole/flock: %.3f (median of rounds; target <= 1.25)\n", m
}'
