#!/usr/bin/env bash
# The macOS cross build, for both targets (docs/macos.md):
#
#   scripts/macos.sh [aarch64] [x86_64]          (no argument: both)
#
# For each target: configures the macos-arm64 / macos-x86_64 preset against the dependency
# prefix scripts/macos-deps.sh prints (building it the first time, ~15 min per target), builds
# everything the preset builds with warnings as errors (the library, the appose CLI, the
# examples, worker_ops among them, and every test program), installs into
# build/macos-<arch>/install, checks that every executable built is a Mach-O file for the
# target's CPU and minimum macOS that loads only system libraries, and builds
# tests/consumer/project against the installed prefix with the same toolchain (find_package,
# linked only). Nothing runs: this machine cannot execute Mach-O, so macOS behaviour is tested
# only on a Mac (`ctest` in a native build there).
#
# Environment: APPOSE_JOBS (parallel jobs, default 2), and what scripts/macos-deps.sh reads.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
jobs=${APPOSE_JOBS:-2}
# The compiler CMake sees is a wrapper script generated into each build tree (zig-c++), so
# ccache's default check (the compiler's mtime) would miss in every new tree: a fresh clone, CI.
# Its content (zig's path, which carries its version, and the target) is what matters.
export CCACHE_COMPILERCHECK=content
start=$SECONDS

log() { echo "macos: $*" >&2; }
die() {
  log "error: $*"
  exit 1
}

archs=("$@")
[ ${#archs[@]} -gt 0 ] || archs=(aarch64 x86_64)
for a in "${archs[@]}"; do
  case $a in aarch64 | x86_64) ;; *) die "unknown target '$a' (aarch64 or x86_64)" ;; esac
done

read -r -a prefixes < <(scripts/macos-deps.sh "${archs[@]/%/-macos}" | tail -n1)
[ ${#prefixes[@]} -eq ${#archs[@]} ] || die "scripts/macos-deps.sh printed no prefix per target"

toolchain=$root/cmake/toolchains/zig-macos.cmake
check_macho=$root/tests/macos/deps_smoke/check_macho.py
minos=$(sed -n 's/^set(APPOSE_MACOS_MIN_DEFAULT "\([0-9.]*\)").*/\1/p' "$toolchain")
minos=${APPOSE_MACOS_MIN:-$minos}

# Executables under $1, build scaffolding (CMake's probes, the zig wrappers) left out: every
# file with an execute bit that is not a script.
executables() {
  find "$1" -type f -perm -u+x -not -path '*/CMakeFiles/*' -not -path '*/zig-macos/*' \
    -not -path '*/install/*' -not -path '*/consumer/*' -not -name '*.sh' -print0 |
    while IFS= read -r -d '' f; do
      [ "$(head -c2 "$f")" = '#!' ] || printf '%s\n' "$f"
    done | sort
}

# Mach-O checks of every file given (tests/macos/deps_smoke/check_macho.py, in one Python
# process): CPU, minimum macOS, system dylibs only. One line per file goes to $2.
check_all() {
  local arch=$1 log=$2
  shift 2
  python3 - "$check_macho" "$arch" "$minos" "$@" >"$log" <<'PY' || die "not every file is a Mach-O $arch executable for macOS $minos (see above; $log)"
import importlib.util, sys
path, arch, minos, *files = sys.argv[1:]
spec = importlib.util.spec_from_file_location("check_macho", path)
check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check)
failed = 0
for f in files:
    sys.argv = [path, f, "--arch", arch, "--minos", minos]
    try:
        check.main()
    except SystemExit as e:
        if e.code:
            print(e.code, file=sys.stderr)
            failed += 1
sys.exit(1 if failed else 0)
PY
}

summary=()
for i in "${!archs[@]}"; do
  arch=${archs[$i]}
  prefix=${prefixes[$i]}
  case $arch in
    aarch64) preset=macos-arm64 cpu=arm64 ;;
    x86_64) preset=macos-x86_64 cpu=x86_64 ;;
  esac
  build=$root/build/macos-$arch
  install=$build/install
  t0=$SECONDS

  log "$preset: configure (deps $prefix)"
  cmake --preset "$preset" -DAPPOSE_MACOS_DEPS="$prefix" -DAPPOSE_WERROR=ON >"$build.configure.log" 2>&1 ||
    {
      tail -n 30 "$build.configure.log" >&2
      die "$preset: configure failed (log: $build.configure.log)"
    }
  log "$preset: build (-j$jobs)"
  cmake --build --preset "$preset" -j "$jobs"
  rm -rf "$install"
  cmake --install "$build" --prefix "$install" >/dev/null

  mapfile -t programs < <(executables "$build")
  [ ${#programs[@]} -gt 0 ] || die "$preset: no executable found under $build"
  for must in "$build/tools/appose" "$build/examples/worker_ops" "$install/bin/appose"; do
    [ -f "$must" ] || die "$preset: $must was not built"
  done
  check_all "$cpu" "$build.macho.log" "${programs[@]}" "$install/bin/appose"
  log "$preset: ${#programs[@]} programs linked, each Mach-O $cpu for macOS $minos"

  # A downstream project: find_package(appose) in the installed prefix, with the same toolchain.
  # The toolchain searches the dependency prefix only, so the package directory is named. Its
  # build tree is kept between runs (configuring zig anew costs ~20 s); the fresh install above
  # makes it link again.
  consumer=$build/consumer
  cmake -S "$root/tests/consumer/project" -B "$consumer" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DAPPOSE_ZIG_TARGET="$arch-macos" \
    -DAPPOSE_MACOS_DEPS="$prefix" -DCONSUMER_MODE=package \
    -Dappose_DIR="$install/lib/cmake/appose" >"$consumer.log" 2>&1 &&
    cmake --build "$consumer" -j "$jobs" >>"$consumer.log" 2>&1 ||
    {
      tail -n 30 "$consumer.log" >&2
      die "$preset: the consumer did not build against $install (log: $consumer.log)"
    }
  check_all "$cpu" "$consumer.macho.log" "$consumer/consumer"
  summary+=("$preset: ${#programs[@]} programs + consumer, $((SECONDS - t0)) s")
done

for line in "${summary[@]}"; do log "$line"; done
log "done in $((SECONDS - start)) s (built and checked; nothing can run here)"
