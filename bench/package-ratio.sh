#!/usr/bin/env bash
# Times building the example daemon's .deb with `sole package deb` against
# nfpm's own CLI (the version sole links, pinned by go.mod's tool
# directive) building a .deb of the same files and scripts, both as whole
# processes, and prints the ratio.
# It also times the .rpm and, when wixl is installed, the .msi, and checks
# that the sole binary links none of the packaging libraries: its package
# initialisation (GODEBUG=inittrace=1) is printed beside sole-package's.
#
#   bench/package-ratio.sh [RUNS]     (default 20 builds of each)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export CGO_ENABLED=0 SOURCE_DATE_EPOCH=1700000000
go build -trimpath -o "$tmp/sole" ./cmd/sole
go build -trimpath -o "$tmp/sole-package" ./cmd/sole-package
# Stripped already, so that neither tool strips: the same bytes go in.
go build -trimpath -ldflags='-s -w' -o "$tmp/hellod" ./cmd/hellod
go build -trimpath -o "$tmp/nfpm" github.com/goreleaser/nfpm/v2/cmd/nfpm

# nfpm gets the unit and the maintainer scripts sole writes (taken from a
# sole-built package), so both build the same package.
"$tmp/sole" package deb --name hellod --version 1.0.0 --binary "$tmp/hellod" \
	--maintainer 'Bench <bench@example.com>' --license MIT --description 'example greeting server' \
	--output "$tmp/ref" >/dev/null
mkdir -p "$tmp/ctl" "$tmp/fs"
dpkg-deb -e "$tmp/ref/hellod_1.0.0-1_amd64.deb" "$tmp/ctl"
dpkg-deb -x "$tmp/ref/hellod_1.0.0-1_amd64.deb" "$tmp/fs"
cat >"$tmp/nfpm.yaml" <<YAML
name: hellod
arch: amd64
platform: linux
version: 1.0.0
release: "1"
section: misc
priority: optional
maintainer: Bench <bench@example.com>
description: example greeting server
license: MIT
contents:
  - {src: $tmp/hellod, dst: /usr/sbin/hellod, file_info: {mode: 0755}}
  - {src: $tmp/fs/lib/systemd/system/hellod.service, dst: /lib/systemd/system/hellod.service}
  - {src: $tmp/fs/usr/share/doc/hellod/copyright, dst: /usr/share/doc/hellod/copyright}
  - {src: $tmp/fs/usr/share/doc/hellod/changelog.Debian.gz, dst: /usr/share/doc/hellod/changelog.Debian.gz}
  - {src: $tmp/fs/usr/share/man/man8/hellod.8.gz, dst: /usr/share/man/man8/hellod.8.gz}
  - {src: $tmp/fs/usr/share/lintian/overrides/hellod, dst: /usr/share/lintian/overrides/hellod}
scripts:
  postinstall: $tmp/ctl/postinst
  preremove: $tmp/ctl/prerm
  postremove: $tmp/ctl/postrm
YAML

now() { date +%s%N; }
sole_pkg() { "$tmp/sole" package "$1" --name hellod --version 1.0.0 --binary "$tmp/hellod" \
	--maintainer 'Bench <bench@example.com>' --license MIT --description 'example greeting server' \
	--output "$tmp/out" >/dev/null; }
nfpm_deb() { "$tmp/nfpm" package -f "$tmp/nfpm.yaml" -p deb -t "$tmp/nfpm-out.deb" >/dev/null 2>&1; }

# Alternate the two, one build each per round, after a warm-up; report
# the medians.
sole_pkg deb
nfpm_deb
s=() n=()
for ((i = 0; i < runs; i++)); do
	t0=$(now)
	sole_pkg deb
	t1=$(now)
	nfpm_deb
	t2=$(now)
	s+=($((t1 - t0))) n+=($((t2 - t1)))
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
ms() { awk -v n="$1" 'BEGIN { printf "%.1f ms", n / 1e6 }'; }
ms_sole=$(median "${s[@]}") ms_nfpm=$(median "${n[@]}")
echo "deb: sole package $(ms "$ms_sole"), nfpm $(ms "$ms_nfpm") (median of $runs, same files, ${SOURCE_DATE_EPOCH})"
awk -v a="$ms_sole" -v b="$ms_nfpm" 'BEGIN { printf "package-ratio: sole/nfpm deb = %.2f (anchor: the nfpm CLI)\n", a / b }'

for f in rpm msi; do
	if [ "$f" = msi ]; then
		command -v wixl >/dev/null || { echo "msi: wixl not installed, not timed"; continue; }
		GOOS=windows GOARCH=amd64 go build -trimpath -ldflags='-s -w' -o "$tmp/hellod.exe" ./cmd/hellod
	fi
	t=()
	for ((i = 0; i < 5; i++)); do
		t0=$(now)
		if [ "$f" = msi ]; then
			"$tmp/sole" package msi --name hellod --version 1.0.0 --binary "$tmp/hellod.exe" \
				--maintainer 'Bench <bench@example.com>' --license MIT --description 'example greeting server' \
				--output "$tmp/out" >/dev/null
		else
			sole_pkg "$f"
		fi
		t+=($(($(now) - t0)))
	done
	echo "$f: sole package $(ms "$(median "${t[@]}")") (median of 5)"
done

# Package initialisation at start: sole must not pay for the packager,
# nor for etcd's client (sole-fleet's).
go build -trimpath -o "$tmp/sole-fleet" ./cmd/sole-fleet
init_ms() { GODEBUG=inittrace=1 "$@" 2>&1 >/dev/null | awk '/^init / {s += $5} END {printf "%.2f", s}'; }
echo "init: sole $(init_ms "$tmp/sole" --version) ms, sole-package $(init_ms "$tmp/sole-package" --help) ms, sole-fleet $(init_ms "$tmp/sole-fleet" --version) ms (GODEBUG=inittrace=1, sum of package inits)"
if GODEBUG=inittrace=1 "$tmp/sole" --version 2>&1 >/dev/null | grep -E 'nfpm|yaml|rpmpack|go-crypto|sprig|etcd|grpc|protobuf|zap'; then
	echo "package-ratio: sole initialises packaging or etcd libraries" >&2
	exit 1
fi
