#!/usr/bin/env bash
# Runs every test tier of sole. This is what `make test` and CI run.
#
#   scripts/test.sh            all tiers
#   TIERS="unit wine" scripts/test.sh   only those tiers
#
# It installs what it needs: Debian packages with apt-get when root. The Go
# tools it uses (staticcheck, nfpm's CLI for the benchmark) are pinned in
# go.mod with the `tool` directive and run with `go tool`, so nothing is
# taken from whatever PATH, GOPATH or GOBIN hold. A tier that cannot be set
# up is skipped with a message, except when CI=true: then it fails.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

TIERS=${TIERS:-"lint cross unit fuzz wine bench"}

# The packages whose tests the wine tier runs, built for Windows.
wine_pkgs="./pidlock ./platform ./runtime ./runtime/kservice ./internal/svcmgr ./internal/rotlog"

# Nothing that `go install` put anywhere is used: GOBIN and GOPATH/bin are
# dropped from PATH, so a tool the script forgot to pin fails here as it
# would on a fresh machine, instead of being found by chance.
strip_path() {
	local dir=$1 out='' d
	local IFS=:
	for d in $PATH; do
		[ -n "$dir" ] && [ "$d" = "$dir" ] && continue
		out=${out:+$out:}$d
	done
	PATH=$out
}
strip_path "$(go env GOBIN)"
for gp in $(go env GOPATH | tr ':' ' '); do strip_path "$gp/bin"; done
export PATH

failed=()
skipfile=$(mktemp)
trap 'rm -f "$skipfile"' EXIT
say() { printf '\n=== %s\n' "$*"; }

# skip NAME REASON: a tier (or part of one) could not be set up. With
# CI=true that fails the tier; otherwise it is noted and the tier goes on.
skip() {
	if [ "${CI:-}" = true ]; then
		echo "FAIL: $1 cannot be set up: $2" >&2
		return 1
	fi
	echo "SKIP: $1: $2" >&2
	echo "$1 ($2)" >>"$skipfile"
}

apt_updated=
# need_pkgs PKG...: install Debian packages that are missing (root only).
need_pkgs() {
	local missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
		echo "missing Debian packages: ${missing[*]} (not root, cannot apt-get install)" >&2
		return 1
	fi
	if [ -z "$apt_updated" ]; then
		apt-get update -qq >/dev/null && apt_updated=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# run_tier NAME FUNC: runs a tier; any failing command in it fails it. (A
# function called as an `if` condition would run with set -e switched off,
# so each tier runs in a subshell of its own with set -e on.)
run_tier() {
	local name=$1 rc
	shift
	say "$name"
	set +e
	(
		set -e
		"$@"
	)
	rc=$?
	set -e
	if [ "$rc" != 0 ]; then
		failed+=("$name")
	fi
}

tier_lint() {
	local bad
	bad=$(find . -path ./.cache -prune -o -name '*.go' -print0 | xargs -0 gofmt -l)
	if [ -n "$bad" ]; then
		echo "gofmt would change: $bad"
		return 1
	fi
	go mod tidy -diff
	go vet ./...
	# Wine 8 cannot remove a directory with entries, so t.TempDir's
	# cleanup fails a test that runs under Wine: the tests the wine tier
	# runs take rmtreetest.TempDir instead (scripts/wine/README.md).
	local files
	# shellcheck disable=SC2086,SC2016 # a list of packages; a Go template
	files=$(GOOS=windows go list -f '{{$d := .Dir}}{{range .TestGoFiles}}{{$d}}/{{.}} {{end}}{{range .XTestGoFiles}}{{$d}}/{{.}} {{end}}' $wine_pkgs)
	# shellcheck disable=SC2086 # a list of files
	bad=$(grep -n -E '\b[tb]\.TempDir\(\)' $files || true)
	if [ -n "$bad" ]; then
		printf 't.TempDir in a test the wine tier runs (use rmtreetest.TempDir):\n%s\n' "$bad"
		return 1
	fi
	# staticcheck is the version go.mod's tool directive pins. It is built
	# for this machine first (`go tool -n` prints its path): under
	# GOOS=windows, `go tool` would build a Windows binary.
	local sc
	sc=$(go tool -n staticcheck)
	"$sc" -version
	"$sc" ./...
	GOOS=windows "$sc" ./...
	GOOS=darwin "$sc" ./...
	if command -v shellcheck >/dev/null || need_pkgs shellcheck; then
		shellcheck scripts/*.sh scripts/wine/*.sh bench/*.sh .ci/run
	else
		skip shellcheck "shellcheck is not installed"
	fi
}

tier_cross() {
	local os
	for os in windows/amd64 darwin/arm64 darwin/amd64 freebsd/amd64; do
		echo "build and vet for $os"
		GOOS=${os%/*} GOARCH=${os#*/} go build ./...
		GOOS=${os%/*} GOARCH=${os#*/} go vet ./...
	done
	GOOS=windows GOARCH=amd64 go test -c -o /dev/null ./pidlock
	GOOS=darwin GOARCH=arm64 go test -c -o /dev/null ./pidlock
}

tier_unit() {
	# util-linux: flock(1), unshare, nsenter, setpriv (the benchmark anchor
	# and the systemd-in-namespaces harness); systemd: the real PID 1 the
	# service tests boot, and systemd-analyze; curl and ps drive the guest;
	# python3 and plistutil read plists back, as real parsers; debhelper's
	# autoscripts are what the Debian maintainer scripts are checked against;
	# lintian, dpkg-deb and rpm check the .deb and .rpm packages, wixl builds
	# the .msi and msiinfo (msitools) reads its tables back, osslsigncode
	# signs and verifies; bash (with bash-completion), zsh and fish run the
	# completion scripts, shellcheck checks bash's; groff and man-db render
	# the man page; etcd-server is the real etcd the fleet lock's tests
	# start on loopback (and stop by pid), etcd-client's etcdctl drives it
	# and is the anchor the fleet is measured against.
	local pkgs="util-linux systemd curl procps python3 libplist-utils debhelper lintian rpm wixl msitools osslsigncode bash-completion zsh fish groff man-db shellcheck etcd-server etcd-client"
	# shellcheck disable=SC2086
	if ! need_pkgs $pkgs; then
		skip unit-tools "cannot install $pkgs"
	fi
	# packaging runs without the race detector: it is single-goroutine
	# code whose tests are dominated by compressing 10 MB binaries (gzip,
	# xz), which -race slows ~20x (300 s instead of 15 s).
	# -timeout: internal/e2e (systemd booted in namespaces, Wine, etcd)
	# takes 4 to 9 minutes by the machine's load, near go test's default
	# of 10 per package; a test near that deadline also cuts its own
	# set-up short (setupWine).
	# shellcheck disable=SC2046
	go test -race -count=1 -timeout 30m $(go list ./... | grep -v '/packaging$')
	go test -count=1 -timeout 30m ./packaging
}

tier_fuzz() {
	# The seed corpora run in tier unit; here each fuzzer explores a while.
	# A count, not a duration: with a duration, a slow start of the workers
	# can end the run with "context deadline exceeded" before it fuzzed.
	local t=${FUZZTIME:-100000x}
	go test -run='^$' -fuzz='^FuzzParseRecord$' -fuzztime="$t" ./pidlock
	go test -run='^$' -fuzz='^FuzzProcLocks$' -fuzztime="$t" ./pidlock
	go test -run='^$' -fuzz='^FuzzFdinfo$' -fuzztime="$t" ./pidlock
	go test -run='^$' -fuzz='^FuzzParseStat$' -fuzztime="$t" ./platform
	go test -run='^$' -fuzz='^FuzzJSONString$' -fuzztime="$t" ./internal/report
	go test -run='^$' -fuzz='^FuzzWatchdogInterval$' -fuzztime="$t" ./internal/sdnotify
	go test -run='^$' -fuzz='^FuzzParse$' -fuzztime="$t" ./internal/envfile
	go test -run='^$' -fuzz='^FuzzParseURL$' -fuzztime="$t" ./internal/fleet
	go test -run='^$' -fuzz='^FuzzSystemdUnit$' -fuzztime="$t" -fuzzminimizetime=5s ./internal/unit
	go test -run='^$' -fuzz='^FuzzParseConfig$' -fuzztime="$t" ./cmd/sole-package
	go test -run='^$' -fuzz='^FuzzParseIDT$' -fuzztime="$t" ./packaging
	go test -run='^$' -fuzz='^FuzzSpec$' -fuzztime="$t" ./packaging
}

tier_wine() {
	if ! scripts/wine/setup.sh; then
		skip wine "scripts/wine/setup.sh failed"
		return 0
	fi
	# shellcheck disable=SC2086 # a list of packages
	GOOS=windows GOARCH=amd64 go test -count=1 -exec "$repo/scripts/wine/exec.sh" $wine_pkgs
	# sole's Windows tests (internal/solecmd) (the job object, the output files and their
	# rotation, the stop sequence of sole run --service). Its other tests
	# are testscript's, whose TestMain exits 1 under Wine 8 after every
	# test passed, as it cannot delete its own running bin\sole.exe (Wine's
	# RemoveAll gap, see scripts/wine/README.md); so the verdict is read
	# from the test output, which must say PASS and no FAIL.
	local bin out
	bin=$(mktemp -d)/sole.test.exe
	GOOS=windows GOARCH=amd64 go test -c -o "$bin" ./internal/solecmd
	out=$("$repo/scripts/wine/exec.sh" "$bin" -test.run '^TestWindows' -test.v 2>&1) || true
	printf '%s\n' "$out" | grep -E '^(--- |PASS|FAIL|ok)' || true
	rm -rf "$(dirname "$bin")"
	if ! printf '%s\n' "$out" | grep -q '^PASS$' || printf '%s\n' "$out" | grep -q -e '^--- FAIL' -e '^FAIL'; then
		printf '%s\n' "$out" | tail -40
		return 1
	fi
}

tier_bench() {
	command -v flock >/dev/null || need_pkgs util-linux
	go test -run='^$' -bench=. -benchtime="${BENCHTIME:-2000x}" -benchmem ./pidlock
	bench/flock-ratio.sh "${BENCH_RUNS:-1000}"
	go run ./bench/readybench -runs "${READY_RUNS:-100}"
	bench/package-ratio.sh "${PACKAGE_RUNS:-5}"
	# The fleet lock against etcdctl lock on a real etcd (its own, on
	# loopback): the ratio, the handoff and failover distributions, and
	# the overlap of each under the same faults.
	if ! command -v etcd >/dev/null || ! command -v etcdctl >/dev/null; then
		need_pkgs etcd-server etcd-client
	fi
	go run ./bench/fleetbench -runs "${FLEET_RUNS:-100}" -handoffs 20 -failovers 5
}

for t in $TIERS; do
	case $t in
	lint | cross | unit | fuzz | wine | bench) run_tier "$t" "tier_$t" ;;
	*)
		echo "unknown tier $t" >&2
		exit 2
		;;
	esac
done

echo
if [ -s "$skipfile" ]; then
	sed 's/^/skipped: /' "$skipfile"
fi
if [ ${#failed[@]} -gt 0 ]; then
	printf 'FAILED: %s\n' "${failed[@]}"
	exit 1
fi
echo "all tiers passed: $TIERS"
