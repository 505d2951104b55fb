#!/usr/bin/env bash
# The dependencies of a macOS cross build (cmake/toolchains/zig-macos.cmake), built on Debian 12:
#
#   scripts/macos-deps.sh [aarch64-macos] [x86_64-macos]     (no argument: both)
#
# For each target, a prefix ${APPOSE_DEPS_CACHE:-$HOME/.cache/appose-cpp}/macos-<arch>-<key>
# (the key changes with this recipe, the zig version, the minimum macOS and the Debian package
# versions) holding:
#   - yaml-cpp, fmt and GoogleTest/GMock, static, cross-built with zig from Debian's source
#     packages (apt-get source; a deb-src entry for <codename> main is added if there is none);
#   - lib/libcurl.tbd and lib/libarchive.tbd: text stubs of macOS's /usr/lib/libcurl.4.dylib and
#     /usr/lib/libarchive.2.dylib, made from the symbol lists of Debian's libcurl4 and
#     libarchive13 and limited to the symbols the oldest supported macOS has (a symbol the
#     stub has and that Mac lacks would link here and fail to load there), with Debian's curl
#     and libarchive headers;
#   - nlohmann-json, toml++ (header-only) and CLI11 headers with CMake package files.
# zig comes from PyPI (ziglang) into a venv in the same cache. Nothing else is downloaded.
# Idempotent: a complete prefix is reused. The last line printed is the prefix (the prefixes,
# space-separated, when there are several targets); progress goes to stderr.
#
# Environment: APPOSE_DEPS_CACHE (above); APPOSE_MACOS_MIN (default: the toolchain file's);
# APPOSE_DEPS_JOBS (parallel compile jobs, default 2). Needs the Debian packages of
# scripts/deps.sh, python3-venv and dpkg-dev; root (or sudo) only to add the deb-src entry.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD

zig_version=0.17.1
toolchain=$root/cmake/toolchains/zig-macos.cmake
macos_min=${APPOSE_MACOS_MIN:-$(sed -n 's/^set(APPOSE_MACOS_MIN_DEFAULT "\([0-9.]*\)").*/\1/p' "$toolchain")}
cache=${APPOSE_DEPS_CACHE:-$HOME/.cache/appose-cpp}
jobs=${APPOSE_DEPS_JOBS:-2}

log() { echo "macos-deps: $*" >&2; }
die() {
  log "error: $*"
  exit 1
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(aarch64-macos x86_64-macos)
for t in "${targets[@]}"; do
  case $t in
    aarch64-macos | x86_64-macos) ;;
    *) die "unknown target '$t' (aarch64-macos or x86_64-macos)" ;;
  esac
done
[[ $macos_min =~ ^[0-9]+\.[0-9]+$ ]] || die "APPOSE_MACOS_MIN must look like 14.0, not '$macos_min'"

# What each macOS ships as /usr/lib/libcurl.4.dylib and /usr/lib/libarchive.2.dylib, as of its
# .0 release (later point releases only add). The stubs keep the symbols that Debian's symbol
# files say appeared in that version or earlier.
case ${macos_min%%.*} in
  11) mac_curl=7.64.1 mac_archive=3.3.2 ;;
  12) mac_curl=7.77.0 mac_archive=3.5.1 ;;
  13) mac_curl=7.84.0 mac_archive=3.5.3 ;;
  14) mac_curl=8.1.2 mac_archive=3.5.3 ;;
  *) die "no libcurl/libarchive versions recorded here for macOS $macos_min (add them)" ;;
esac

mkdir -p "$cache"
exec 9>"$cache/macos-deps.lock"
flock 9

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}
# apt and dpkg locks are shared with whoever else runs apt on this machine: wait for them.
apt_retry() {
  local i
  for i in 1 2 3 4 5 6; do
    if as_root apt-get -o DPkg::Lock::Timeout=300 -qq "$@"; then return 0; fi
    log "apt-get $1 failed (try $i), retrying in 20 s"
    sleep 20
  done
  return 1
}

# --- zig from PyPI ----------------------------------------------------------------------------
zig_venv=$cache/zig-$zig_version
zig_bin() { compgen -G "$zig_venv/lib/python3*/site-packages/ziglang/zig" | head -n1; }
zig=$(zig_bin || true)
if [ -z "$zig" ] || [ "$("$zig" version 2>/dev/null)" != "$zig_version" ]; then
  log "installing ziglang $zig_version from PyPI into $zig_venv"
  rm -rf "$zig_venv"
  python3 -m venv "$zig_venv"
  "$zig_venv/bin/pip" install --quiet "ziglang==$zig_version"
  zig=$(zig_bin)
  [ "$("$zig" version)" = "$zig_version" ] || die "zig $zig_version did not install"
fi

# --- Debian packages --------------------------------------------------------------------------
installed_version() {  # the installed version of a binary package, or nothing
  dpkg-query -W -f='${db:Status-Abbrev} ${Version}\n' "$1" 2>/dev/null | awk '/^ii/ {print $2}'
}
for p in libcurl4-openssl-dev libcurl4 libarchive-dev libarchive13 nlohmann-json3-dev \
  libtomlplusplus-dev libcli11-dev dpkg-dev python3-venv; do
  [ -n "$(installed_version "$p")" ] || die "Debian package $p is missing: run scripts/deps.sh"
done

codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
# deb-src for <codename> main, from the mirror of the deb entry that is already configured.
ensure_deb_src() {
  if [ -n "$(apt-cache showsrc --only-source yaml-cpp 2>/dev/null)" ]; then return 0; fi
  local has_src uri signed
  has_src=$(grep -rhsE '^[[:space:]]*(deb-src[[:space:]]|Types:.*deb-src)' \
    /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources || true)
  if [ -z "$has_src" ]; then
    # deb822 stanzas first, then one-line entries: the first deb entry of <codename> with main.
    read -r uri signed < <(
      awk -v suite="$codename" '
        function flush() {
          if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " suite " ") && comps ~ /(^| )main( |$)/ && uris != "") {
            split(uris, u, " "); print u[1], signed; found = 1; exit
          }
          types = suites = comps = uris = signed = ""
        }
        FNR == 1 { flush() }
        /^[[:space:]]*$/ { flush(); next }
        /^Types:/ { sub(/^Types:[[:space:]]*/, ""); types = $0 }
        /^URIs:/ { sub(/^URIs:[[:space:]]*/, ""); uris = $0 }
        /^Suites:/ { sub(/^Suites:[[:space:]]*/, ""); suites = $0 }
        /^Components:/ { sub(/^Components:[[:space:]]*/, ""); comps = $0 }
        /^Signed-By:/ { sub(/^Signed-By:[[:space:]]*/, ""); signed = $0 }
        END { if (!found) flush() }
      ' /etc/apt/sources.list.d/*.sources 2>/dev/null
      grep -hsE "^[[:space:]]*deb[[:space:]]" /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
        awk -v suite="$codename" '{ i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
          if ($(i+1) == suite) for (j = i + 2; j <= NF; j++) if ($j == "main") { print $i; exit } }'
    ) || true
    [ -n "${uri:-}" ] || die "no deb entry for $codename main in /etc/apt: cannot add deb-src"
    log "adding a deb-src entry for $codename main (same mirror as the deb entry)"
    {
      echo "# Added by appose-cpp scripts/macos-deps.sh: Debian source packages"
      echo "Types: deb-src"
      echo "URIs: $uri"
      echo "Suites: $codename"
      echo "Components: main"
      [ -z "${signed:-}" ] || echo "Signed-By: $signed"
    } | as_root tee /etc/apt/sources.list.d/appose-deb-src.sources >/dev/null
  fi
  apt_retry update
  [ -n "$(apt-cache showsrc --only-source yaml-cpp 2>/dev/null)" ] ||
    die "apt-cache showsrc yaml-cpp finds nothing even after apt-get update"
}

src_version() {  # the newest version of a source package apt can fetch, or nothing
  apt-cache showsrc --only-source "$1" 2>/dev/null | sed -n 's/^Version: //p' | sort -V | tail -n1
}
built_from_source=(yaml-cpp fmtlib googletest)
declare -A srcver
for s in "${built_from_source[@]}"; do
  srcver[$s]=$(src_version "$s")
  if [ -z "${srcver[$s]}" ]; then
    ensure_deb_src
    srcver[$s]=$(src_version "$s")
    [ -n "${srcver[$s]}" ] || die "no source package $s"
  fi
done

# --- the key ----------------------------------------------------------------------------------
manifest=$(
  echo "recipe $(cat "$root/scripts/macos-deps.sh" "$toolchain" "$root/cmake/toolchains/zig-wrapper.sh.in" | sha256sum | cut -c1-16)"
  echo "zig $zig_version"
  echo "macos-min $macos_min (libcurl $mac_curl, libarchive $mac_archive)"
  for s in "${built_from_source[@]}"; do echo "source $s ${srcver[$s]}"; done
  for p in libcurl4 libcurl4-openssl-dev libarchive13 libarchive-dev nlohmann-json3-dev \
    libtomlplusplus-dev libcli11-dev; do
    echo "deb $p $(installed_version "$p")"
  done
)
key=$(printf '%s\n' "$manifest" | sha256sum | cut -c1-12)

# --- sources (shared by the targets) ----------------------------------------------------------
srcdir=$cache/src
mkdir -p "$srcdir"
source_tree() {  # unpacks (once) and prints the tree of source package $1 at its version
  local s=$1 v=${srcver[$1]} dir
  dir=$srcdir/$s-$v
  if [ ! -f "$dir/.complete" ]; then
    [ -n "$(apt-cache showsrc --only-source "$s" 2>/dev/null)" ] || ensure_deb_src
    log "apt-get source $s=$v"
    rm -rf "$dir" "$dir.tmp"
    mkdir -p "$dir.tmp"
    (cd "$dir.tmp" && apt-get -qq -o APT::Sandbox::User=root source "$s=$v" >&2)
    local tree
    tree=$(find "$dir.tmp" -mindepth 1 -maxdepth 1 -type d | head -n1)
    [ -n "$tree" ] || die "apt-get source $s=$v unpacked nothing"
    mv "$tree" "$dir"
    rm -rf "$dir.tmp"
    touch "$dir/.complete"
  fi
  echo "$dir"
}

# --- per target -------------------------------------------------------------------------------
write_stub() {  # write_stub OUT INSTALL_NAME CURRENT COMPAT MAX_VERSION DEBIAN_PACKAGE
  local out=$1 name=$2 cur=$3 compat=$4 max=$5 pkg=$6
  dpkg-query --control-show "$pkg" symbols >"$out.symbols"
  python3 - "$out" "$name" "$cur" "$compat" "$max" "$pkg" "$out.symbols" <<'PY'
import re, sys
out, name, cur, compat, maxv, pkg, symfile = sys.argv[1:]
def vkey(v):
    v = re.sub(r"[-~+].*$", "", v)  # upstream part only
    return [int(x) for x in re.findall(r"\d+", v)]
kept, dropped = [], []
for line in open(symfile):
    # " curl_easy_init@CURL_OPENSSL_4 7.16.2": name@version-node, then the Debian version
    m = re.match(r"^\s+(\S+?)@\S+\s+(\S+)", line)
    if not m or line.lstrip().startswith(("#", "*")):
        continue
    sym, since = m.groups()
    (kept if vkey(since) <= vkey(maxv) else dropped).append(sym)
kept = sorted(set(kept))
with open(out, "w") as f:
    f.write("--- !tapi-tbd\ntbd-version: 4\ntargets: [ x86_64-macos, arm64-macos ]\n")
    f.write(f"install-name: '{name}'\ncurrent-version: {cur}\ncompatibility-version: {compat}\n")
    f.write("exports:\n  - targets: [ x86_64-macos, arm64-macos ]\n    symbols: [ ")
    f.write(",\n                 ".join("_" + s for s in kept))
    f.write(" ]\n...\n")
print(f"{out}: {len(kept)} symbols of {pkg} (<= {maxv}); left out {len(dropped)}: "
      + (" ".join(sorted(dropped)) or "none"), file=sys.stderr)
PY
  rm -f "$out.symbols"
}

copy_files_of() {  # copy_files_of PACKAGE PATTERN DEST_DIR STRIP: the package's files under STRIP
  local pkg=$1 pattern=$2 dest=$3 strip=$4 f rel
  dpkg -L "$pkg" | grep -E "$pattern" | while read -r f; do
    [ -f "$f" ] || continue
    rel=${f#"$strip"/}
    mkdir -p "$dest/$(dirname "$rel")"
    cp -p "$f" "$dest/$rel"
  done
}

cmake_dep() {  # cmake_dep NAME SOURCE_DIR PREFIX TARGET [cmake args...]
  local name=$1 src=$2 prefix=$3 target=$4
  shift 4
  local build=$prefix.build/$name logf=$prefix.build/$name.log
  rm -rf "$build"
  mkdir -p "$build"
  log "$target: building $name (log: $logf)"
  if ! {
    cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DAPPOSE_ZIG_TARGET="$target" \
      -DAPPOSE_MACOS_MIN="$macos_min" -DAPPOSE_MACOS_DEPS="$prefix" -DAPPOSE_ZIG="$zig" \
      -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_INSTALL_LIBDIR=lib -DBUILD_SHARED_LIBS=OFF \
      -DCMAKE_POSITION_INDEPENDENT_CODE=ON "$@" &&
      cmake --build "$build" -j "$jobs" &&
      cmake --install "$build"
  } >"$logf" 2>&1; then
    tail -n 40 "$logf" >&2
    die "$target: $name failed (log: $logf)"
  fi
}

build_prefix() {  # build_prefix TARGET PREFIX
  local target=$1 prefix=$2 start=$SECONDS meta
  meta=$prefix/share/appose-macos-deps
  rm -rf "$prefix" "$prefix.build"
  mkdir -p "$meta" "$prefix/lib" "$prefix/include"
  echo "$target.$macos_min" >"$meta/target"
  printf '%s\n' "$manifest" >"$meta/manifest"

  # Static libraries from Debian's source packages.
  local yaml_src fmt_src gtest_src
  yaml_src=$(source_tree yaml-cpp)
  fmt_src=$(source_tree fmtlib)
  gtest_src=$(source_tree googletest)
  cmake_dep yaml-cpp "$yaml_src" "$prefix" "$target" \
    -DYAML_CPP_BUILD_TESTS=OFF -DYAML_CPP_BUILD_TOOLS=OFF -DYAML_CPP_BUILD_CONTRIB=OFF \
    -DYAML_BUILD_SHARED_LIBS=OFF
  cmake_dep fmt "$fmt_src" "$prefix" "$target" -DFMT_DOC=OFF -DFMT_TEST=OFF -DFMT_INSTALL=ON
  cmake_dep googletest "$gtest_src" "$prefix" "$target" -DBUILD_GMOCK=ON -DINSTALL_GTEST=ON

  # The system libraries: stubs and Debian's headers.
  write_stub "$prefix/lib/libcurl.tbd" /usr/lib/libcurl.4.dylib 9 7 "$mac_curl" libcurl4
  write_stub "$prefix/lib/libarchive.tbd" /usr/lib/libarchive.2.dylib 9.2 9 "$mac_archive" \
    libarchive13
  local curl_inc
  curl_inc=$(dpkg -L libcurl4-openssl-dev | grep -E '/curl/curl\.h$' | head -n1)
  copy_files_of libcurl4-openssl-dev '/curl/[^/]+\.h$' "$prefix/include" "${curl_inc%/curl/curl.h}"
  copy_files_of libarchive-dev '^/usr/include/archive(_entry)?\.h$' "$prefix/include" /usr/include

  # Header-only libraries with their CMake package files (share/cmake/<name>: the files find
  # their prefix three levels up, as in /usr).
  copy_files_of nlohmann-json3-dev '^/usr/include/' "$prefix/include" /usr/include
  copy_files_of nlohmann-json3-dev '^/usr/share/cmake/' "$prefix/share/cmake" /usr/share/cmake
  copy_files_of libcli11-dev '^/usr/include/' "$prefix/include" /usr/include
  copy_files_of libcli11-dev '^/usr/share/cmake/' "$prefix/share/cmake" /usr/share/cmake
  # Debian builds toml++ as a shared library and its package file imports that .so: the macOS
  # prefix takes the headers with a header-only package file (same target name) instead.
  copy_files_of libtomlplusplus-dev '^/usr/include/' "$prefix/include" /usr/include
  copy_files_of libtomlplusplus-dev '/cmake/tomlplusplus/tomlplusplusConfigVersion\.cmake$' \
    "$prefix/lib/cmake/tomlplusplus" "$(dirname "$(dpkg -L libtomlplusplus-dev |
      grep -E '/cmake/tomlplusplus/tomlplusplusConfigVersion\.cmake$')")"
  cat >"$prefix/lib/cmake/tomlplusplus/tomlplusplusConfig.cmake" <<'EOF'
# toml++ header-only (written by appose-cpp scripts/macos-deps.sh in place of Debian's file,
# which imports Debian's shared library).
if(NOT TARGET tomlplusplus::tomlplusplus)
  get_filename_component(_toml_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
  add_library(tomlplusplus::tomlplusplus INTERFACE IMPORTED)
  set_target_properties(tomlplusplus::tomlplusplus PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${_toml_prefix}/include"
    INTERFACE_COMPILE_DEFINITIONS "TOML_HEADER_ONLY=1"
    INTERFACE_COMPILE_FEATURES "cxx_std_17")
  unset(_toml_prefix)
endif()
EOF

  rm -rf "$prefix.build"
  log "$target: prefix built in $((SECONDS - start)) s"
  touch "$meta/complete"
}

prefixes=()
for target in "${targets[@]}"; do
  prefix=$cache/macos-${target%%-*}-$key
  if [ -f "$prefix/share/appose-macos-deps/complete" ]; then
    log "$target: up to date ($prefix)"
  else
    build_prefix "$target" "$prefix"
  fi
  prefixes+=("$prefix")
done
echo "${prefixes[*]}"
