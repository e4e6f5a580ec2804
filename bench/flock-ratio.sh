#!/usr/bin/env bash
# Times `sole run --lock F -- true` against util-linux `flock -n F true`,
# both as whole processes started from this shell, and prints the ratio.
# Target: sole within 1.25x of flock(1).
#
# It also times bench/floor, the least a Go program can do while staying
# the command's parent (flock, fork/exec, wait): floor/flock is what this
# machine charges any Go parent, sole/floor what sole itself adds.
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
go build -trimpath -o "$tmp/floor" ./bench/floor
sole="$tmp/sole"
floor="$tmp/floor"
lock="$tmp/bench.lock"
truebin=$(type -P true)

now() { date +%s%N; }
loop_sole() { local i; for ((i = 0; i < per; i++)); do "$sole" run --lock "$lock" -- "$truebin"; done; }
loop_flock() { local i; for ((i = 0; i < per; i++)); do flock -n "$lock" "$truebin"; done; }
loop_floor() { local i; for ((i = 0; i < per; i++)); do "$floor" "$lock" "$truebin"; done; }

# Warm up, then alternate rounds so that drift of the machine's load hits
# all three alike; report the median of the per-round ratios.
loop_sole
loop_flock
loop_floor
r_sole=() r_floor=() r_over=()
tsole=0 tflock=0 tfloor=0
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", a / b }'; }
for ((r = 0; r < rounds; r++)); do
	t0=$(now)
	loop_flock
	t1=$(now)
	loop_sole
	t2=$(now)
	loop_floor
	t3=$(now)
	f=$((t1 - t0)) s=$((t2 - t1)) g=$((t3 - t2))
	tflock=$((tflock + f)) tsole=$((tsole + s)) tfloor=$((tfloor + g))
	r_sole+=("$(ratio "$s" "$f")")
	r_floor+=("$(ratio "$g" "$f")")
	r_over+=("$(ratio "$s" "$g")")
done
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) printf "%.3f\n", a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
n=$((per * rounds))
awk -v n="$n" -v s="$tsole" -v f="$tflock" -v g="$tfloor" 'BEGIN {
	printf "flock -n F true:           %8.1f us/run (%d runs)\n", f / n / 1000, n
	printf "bench/floor F true:        %8.1f us/run\n", g / n / 1000
	printf "sole run --lock F -- true: %8.1f us/run\n", s / n / 1000
}'
echo "ratio floor/flock: $(median "${r_floor[@]}") (what a Go parent costs on this machine)"
echo "ratio sole/floor:  $(median "${r_over[@]}") (what sole adds to it)"
echo "ratio sole/flock:  $(median "${r_sole[@]}") (target <= 1.25)"
