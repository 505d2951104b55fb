#!/usr/bin/env bash
# Runs the unit-test programs of a build (default build/dev) under valgrind memcheck:
#   scripts/memcheck.sh [build dir]
# Any memcheck error or definite/indirect leak fails the run. Two programs run at a time.
#
# Left out (each runs in the other builds, ASan included):
# - tests that measure speed or move tens of megabytes: memcheck makes them take minutes and
#   their time limits fail (*StayFast*, the codec's Large.*, the real uv download);
# - tests that need pidfd_open to watch a grandchild, or need posix_spawn to report a failed
#   exec: valgrind 3.19 does not implement pidfd_open (the library then takes its no-pidfd
#   path, which this run therefore covers) and runs posix_spawn's vfork as a plain fork, so a
#   failed exec shows as exit code 127 instead of an error.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$here/build/dev}
out=$build/memcheck
rm -rf "$out" && mkdir -p "$out"

# The unit-test programs, and the environment ctest gives them (CROSSCOMPILING_EMULATOR is
# `cmake -E env VAR=... ...`), from ctest's own description of the tests.
mapfile -t jobs < <(ctest --test-dir "$build" -L unit --show-only=json-v1 | python3 -c '
import json, sys
seen = {}
for t in json.load(sys.stdin)["tests"]:
    cmd = t.get("command") or []
    if "-E" in cmd and "env" in cmd:
        i = cmd.index("env") + 1
        env = []
        while i < len(cmd) and "=" in cmd[i] and not cmd[i].startswith("/"):
            env.append(cmd[i]); i += 1
        exe = cmd[i]
    elif cmd:
        env, exe = [], cmd[0]
    else:
        continue
    if exe.endswith("_test"):
        seen.setdefault(exe, env)
for exe, env in sorted(seen.items()):
    print("\t".join([exe] + env))
')
[ "${#jobs[@]}" -gt 0 ] || { echo "memcheck: no unit tests found in $build (build it first)"; exit 1; }

run_one() {
  IFS=$'\t' read -r -a fields <<<"$1"
  local exe=${fields[0]} name
  name=$(basename "$exe")
  local start=$SECONDS
  if env "${fields[@]:1}" valgrind -q --error-exitcode=99 --leak-check=full \
      --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
      --num-callers=30 "$exe" --gtest_filter="-$skip" >"$out/$name.log" 2>&1; then
    echo "memcheck: $name clean ($((SECONDS - start)) s)"
  else
    echo "memcheck: $name FAILED ($((SECONDS - start)) s); log: $out/$name.log"
    grep -E '^==[0-9]+==|FAILED' "$out/$name.log" | head -40
    return 1
  fi
}
skip='*StayFast*:Large.*:ToolInstall.BuilderDownloadsTheRealUvThenBuilds'
skip+=':Process.MissingProgramThrowsNamingIt:Process.MissingWorkingDirectoryThrows'
skip+=':ToolRun.UnstartableCommandThrowsBuildException:Environment.UnstartableServiceThrowsAtStart'
skip+=':Process.KillGroupReachesGrandchild:Process.ExitFdBecomesReadableOnExit'
skip+=':MacosDescriptors.ExitFdStaysReadableAndLeavesTheStatusToWait'
skip+=':ToolStop.CancelFromAnotherThreadKillsTheGroup:ToolStop.CancelAlsoKillsADescendantIgnoringSigterm'
skip+=':ToolStop.GrandchildHoldingThePipesDoesNotHang:ToolStop.ThrowingCallbackKillsTheChildAndRethrows'
export -f run_one
export out skip

printf '%s\n' "${jobs[@]}" | xargs -d '\n' -P 2 -I{} bash -c 'run_one "$1"' _ {}
echo "memcheck: ${#jobs[@]} unit-test programs clean under valgrind"
