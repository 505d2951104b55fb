#!/usr/bin/env bash
# Cross-builds appose-cpp for 64-bit Windows with mingw-w64 and runs the Windows tests under
# Wine (docs/platforms.md):
#
#   scripts/windows.sh [ctest arguments...]
#
#   1. the static dependency prefix (scripts/windows-deps.sh: built once, then reused);
#   2. configure and build with the `windows` preset (static libappose, static compiler runtime,
#      Release) into build/windows;
#   3. install the library (headers, libappose.a, CMake package), the CLI (appose.exe),
#      examples/worker_ops.exe and the test programs into $APPOSE_WINDOWS_INSTALL
#      (default build/windows/install);
#   4. start a fresh Wine prefix (a persistent wineserver for the run, wineboot once), run
#      `ctest -L windows` through Wine, and stop the wineserver whatever happens.
#
# Extra arguments go to ctest (e.g. -R e2e, --repeat until-fail:3); without a --repeat of
# theirs, a failed test is run once more (Wine's failed process starts, below). Warnings are errors when
# APPOSE_WERROR=ON or CI is set. WINEPREFIX, if set, is used (and must not be in use by another
# wineserver); otherwise a temporary one is made and removed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
start=$(date +%s)
say() { echo "windows: $* ($(( $(date +%s) - start )) s)" >&2; }

APPOSE_WINDOWS_DEPS=$(scripts/windows-deps.sh | tail -n 1)
export APPOSE_WINDOWS_DEPS
say "dependencies in $APPOSE_WINDOWS_DEPS"

# Warnings as errors when asked (APPOSE_WERROR, or CI); otherwise the build keeps its setting,
# so that a run does not flip it and recompile everything.
werror=()
if [ -n "${APPOSE_WERROR:-}" ]; then
  werror=(-DAPPOSE_WERROR="$APPOSE_WERROR")
elif [ -n "${CI:-}" ]; then
  werror=(-DAPPOSE_WERROR=ON)
fi
jobs=${APPOSE_JOBS:-$(nproc)}
install_dir=${APPOSE_WINDOWS_INSTALL:-$here/build/windows/install}

cmake --preset windows "${werror[@]}" >/dev/null
say "configured"
cmake --build --preset windows -j "$jobs"
say "built"

rm -rf "$install_dir"
cmake --install build/windows --prefix "$install_dir" >/dev/null
for component in examples windows_tests; do
  cmake --install build/windows --prefix "$install_dir" --component "$component" >/dev/null
done
say "installed into $install_dir"

# --- Wine ----------------------------------------------------------------------------------
# Wine's first program in a prefix starts its services (services.exe, rpcss.exe, ...), which
# inherit that program's stdout: under ctest each test would then wait for them. A persistent
# wineserver and one wineboot with its output on /dev/null start them beforehand, detached
# (cmake/toolchains/mingw-w64.cmake explains).
wineserver=/usr/lib/wine/wineserver
[ -x "$wineserver" ] || wineserver=$(command -v wineserver)
wine=/usr/lib/wine/wine64
[ -x "$wine" ] || wine=$(command -v wine64 || command -v wine)
own_prefix=false
if [ -z "${WINEPREFIX:-}" ]; then
  WINEPREFIX=$(mktemp -d "${TMPDIR:-/tmp}/appose-wine.XXXXXX")
  own_prefix=true
fi
export WINEPREFIX WINEDEBUG=${WINEDEBUG:--all}
stop_wine() {
  "$wineserver" -k >/dev/null 2>&1 || true
  "$wineserver" -w >/dev/null 2>&1 || true
  if $own_prefix; then rm -rf "$WINEPREFIX"; fi
}
trap stop_wine EXIT
"$wineserver" -p >/dev/null 2>&1 </dev/null
"$wine" wineboot --init >/dev/null 2>&1 </dev/null
say "Wine ready in $WINEPREFIX"

# Wine (8.0) now and then fails to start a process: the new process ends before it reports
# itself started, and CreateProcessW fails with ERROR_INTERNAL_ERROR (NtCreateUserProcess's
# STATUS_INTERNAL_ERROR), or, when cmd.exe is the one starting it, cmd prints "Can't recognize
# ... as an internal or external command" and exits 9009. Real Windows does not do this, so a
# test that fails is run once more; one that fails twice fails the run, and the first failure
# stays in the log. APPOSE_WINE_RERUN=0, or a --repeat of the caller's, turns this off.
repeat=()
if [ "${APPOSE_WINE_RERUN:-1}" != 0 ] && [[ " $* " != *" --repeat"* ]]; then
  repeat=(--repeat until-pass:2)
fi

status=0
ctest --preset windows -L windows -j "$jobs" "${repeat[@]}" "$@" || status=$?
say "tests done (exit $status)"
exit $status
