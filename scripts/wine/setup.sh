#!/usr/bin/env bash
# Prepare the Wine test tier: install Wine + MinGW (Debian, as root), create
# the test-only Wine prefix, and install the ProcessPrng stub DLL that Go
# >= 1.21 needs under Wine 8. Idempotent; a second run only checks.
#
# Env: WINEPREFIX (default <repo>/.cache/wine).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Same environment as exec.sh: own prefix, quiet, never prompt for Mono/Gecko,
# never touch a display.
export WINEPREFIX=${WINEPREFIX:-$(cd "$here/../.." && pwd)/.cache/wine}
export WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY WAYLAND_DISPLAY

die() { echo "wine setup: $*" >&2; exit 1; }

# 1. Tools. wine64 is the 64-bit loader; wine provides the wrapper,
#    wineboot and wineserver; the MinGW compiler builds the stub DLL.
if ! command -v wine >/dev/null || ! command -v x86_64-w64-mingw32-gcc >/dev/null; then
	[ "$(id -u)" = 0 ] ||
		die "wine/mingw missing; run as root or: apt-get install wine wine64 gcc-mingw-w64-x86-64-win32"
	pkgs=(wine wine64 gcc-mingw-w64-x86-64-win32)
	echo "wine setup: installing ${pkgs[*]}" >&2
	inst() { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null; }
	inst || { apt-get update -qq >/dev/null && inst; } || die "apt-get install ${pkgs[*]} failed"
fi

# 2. Prefix. wineboot initialises it; `wineserver -w` waits until every
#    process has finished so the registry is flushed to disk.
sys32=$WINEPREFIX/drive_c/windows/system32
if [ ! -f "$WINEPREFIX/system.reg" ] || [ ! -d "$sys32" ]; then
	mkdir -p "$WINEPREFIX"
	wine wineboot --init </dev/null >/dev/null 2>&1 || die "wineboot --init failed (prefix $WINEPREFIX)"
	wineserver -w || true
	[ -d "$sys32" ] || die "wineboot did not create $sys32"
fi

# 3. Stub DLL. Build next to the prefix (rebuilt when the source is newer),
#    then copy into system32 whenever it differs (wineboot -u, run by Wine
#    itself after an upgrade, may replace system32 files).
src=$here/processprng.c
dll=$WINEPREFIX/processprng.dll
if [ ! -f "$dll" ] || [ "$src" -nt "$dll" ]; then
	x86_64-w64-mingw32-gcc -shared -O2 -s -o "$dll.tmp" "$src" -ladvapi32 ||
		die "building $src failed"
	mv "$dll.tmp" "$dll"
fi
cmp -s "$dll" "$sys32/bcryptprimitives.dll" || cp "$dll" "$sys32/bcryptprimitives.dll" ||
	die "cannot install bcryptprimitives.dll into $sys32"

echo "wine: ready (prefix $WINEPREFIX, $(wine --version))"
