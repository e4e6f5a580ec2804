#!/usr/bin/env bash
# Run a Windows executable under Wine with the test prefix; for
#   GOOS=windows GOARCH=amd64 go test -exec "$PWD/scripts/wine/exec.sh" ./...
# Usage: exec.sh prog.exe [args...]. Exit code, stdout and stderr are the
# program's. Run setup.sh once first. Env: WINEPREFIX (default <repo>/.cache/wine).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Same environment as setup.sh: own prefix, quiet, never prompt for Mono/Gecko,
# never touch a display.
export WINEPREFIX=${WINEPREFIX:-$(cd "$here/../.." && pwd)/.cache/wine}
export WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY WAYLAND_DISPLAY

if [ ! -f "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" ]; then
	echo "wine exec: prefix $WINEPREFIX not ready; run $here/setup.sh" >&2
	exit 127
fi

# Wine's first process in a fresh wineserver starts the "system" processes
# (services.exe, winedevice.exe, rpcss.exe, ...). They inherit that process's
# stderr and outlive it, so go test would see its output pipe held open and
# report "Test I/O incomplete" after a minute. So, with stdio detached:
# - keep one wineserver alive for 60 idle seconds (go test starts one process
#   per package; reusing the server saves ~0.5 s each); exit 2 = already running;
# - run a trivial Windows command first (~0.1 s). It boots the system
#   processes if the server is new, and otherwise restarts the server's idle
#   timer, so the server cannot exit just before our program connects.
wineserver -p60 </dev/null >/dev/null 2>&1 || true
wine cmd /c exit </dev/null >/dev/null 2>&1 || true

exec wine "$@"
