#!/usr/bin/env bash
# Builds the Windows (x86_64, mingw-w64) dependencies of appose-cpp, statically, from Debian's
# source packages, into a prefix that cmake/toolchains/mingw-w64.cmake searches:
#
#   export APPOSE_WINDOWS_DEPS=$(scripts/windows-deps.sh)
#   cmake --preset windows        # or -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/mingw-w64.cmake
#
#   scripts/windows-deps.sh                 build if needed; print the prefix (last line, stdout)
#   scripts/windows-deps.sh --print-prefix  print the prefix it would use, build nothing
#
# The prefix is ${APPOSE_DEPS_CACHE:-$HOME/.cache/appose-cpp}/windows-x86_64-<key>, outside the
# clone; <key> hashes the build recipe (the code of this script's part 4 and of the toolchain
# file, comments aside), the versions of the source packages, of the header-only -dev packages,
# of the cross compiler and of CMake: a change to any of them makes a new prefix, and an
# unchanged one is reused at no cost (a complete prefix holds .appose-deps-manifest, which
# lists them). Other complete prefixes are kept (other branches may use them); remove old ones
# by hand. Progress goes to stderr, build logs to <prefix>.build/logs (kept on
# failure). APPOSE_DEPS_JOBS sets the build parallelism (default 2).
#
# Installs with apt-get what is missing: the cross compiler, wine64 (the tests run under Wine),
# dpkg-dev (apt-get source), and the header-only -dev packages; adds a deb-src entry for
# bookworm main, on the mirror of the existing deb entry, when there is none.
# Downloads nothing but Debian packages, binary and source.
#
# Built (static, Release): zlib, bzip2, xz-utils (liblzma), libarchive, yaml-cpp, curl
# (Schannel), googletest, fmt. Copied from Debian's -dev packages: nlohmann-json, toml++
# (header-only here: Debian's CMake config names its shared library), CLI11.
# Consumers: find_package() finds all of them; CURL::libcurl carries CURL_STATICLIB,
# LibArchive::LibArchive carries LIBARCHIVE_STATIC and liblzma, bz2 and z (the prefix's
# share/cmake/Modules wraps CMake's FindLibArchive and FindLibLZMA; the toolchain file puts
# that folder on CMAKE_MODULE_PATH).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
self="$here/$(basename "${BASH_SOURCE[0]}")"
toolchain=$(cd "$here/.." && pwd)/cmake/toolchains/mingw-w64.cmake
cache=${APPOSE_DEPS_CACHE:-$HOME/.cache/appose-cpp}
jobs=${APPOSE_DEPS_JOBS:-2}
triple=x86_64-w64-mingw32

print_only=false
case "${1:-}" in
  "") ;;
  --print-prefix) print_only=true ;;
  *) echo "usage: $0 [--print-prefix]" >&2; exit 2 ;;
esac

say() { echo "windows-deps: $*" >&2; }
die() { say "error: $*"; exit 1; }
[ -f "$toolchain" ] || die "no toolchain file at $toolchain"

# Source packages, in build order (libarchive needs the three codecs before it).
sources=(zlib bzip2 xz-utils libarchive yaml-cpp curl googletest fmtlib)
header_only=(nlohmann-json3-dev libtomlplusplus-dev libcli11-dev)
tools=(g++-mingw-w64-x86-64-posix binutils-mingw-w64-x86-64 wine64 dpkg-dev cmake ninja-build)

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
updated=false
apt_update() {
  $updated && return
  say "apt-get update"
  $sudo apt-get update -qq >&2
  updated=true
}

# --- 1. build tools and header-only packages -----------------------------------------------
missing=()
for p in "${tools[@]}" "${header_only[@]}"; do installed "$p" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  apt_update
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# --- 2. deb-src entries for bookworm main ---------------------------------------------------
# apt-get indextargets reads both sources formats (one-line .list, deb822 .sources): the deb
# entry of bookworm main gives the mirror. Only bookworm main: its point releases carry the
# security fixes (curl 7.88.1-10+deb12u15 in 2025), and the security archive has listed source
# versions whose files it did not serve (zlib 1:1.2.13.dfsg-1+deb12u1: 404).
src_list=/etc/apt/sources.list.d/appose-deb-src.list
targets() { apt-get indextargets "$@" --format '$(TARGET_OF) $(REPO_URI) $(RELEASE) $(COMPONENT)'; }
# Sources of bookworm main already downloaded: nothing to do (the usual case; one call, since
# indextargets takes a second or more on a loaded machine).
if ! targets 'Identifier: Sources' | grep -q ' bookworm main$'; then
  if ! targets --no-release-info 'Identifier: Sources' | grep -q ' bookworm main$'; then
    entries=$(targets --no-release-info 'Identifier: Packages' |
      awk '$1 == "deb" && $3 == "bookworm" && $4 == "main" {
             print "deb-src " $2 " " $3 " main" }' | sort -u)
    [ -n "$entries" ] || die "APT has no deb entry for bookworm main to copy as deb-src"
    say "adding to $src_list:"
    echo "$entries" | sed 's/^/  /' >&2
    { echo "# Added by appose-cpp scripts/windows-deps.sh (apt-get source): the mirror of the deb entry"
      echo "$entries"; } | $sudo tee "$src_list" >/dev/null
  fi
  updated=false
  apt_update
fi

# --- 3. the key: recipe, toolchain, package versions ----------------------------------------
newest() { # the highest of the Debian versions on stdin
  local best="" v
  while read -r v; do
    if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then best=$v; fi
  done
  echo "$best"
}
srcver() { apt-cache showsrc --only-source "$1" 2>/dev/null | sed -n 's/^Version: //p' | newest; }
declare -A version
for s in "${sources[@]}"; do
  v=$(srcver "$s")
  if [ -z "$v" ] && ! $updated; then apt_update; v=$(srcver "$s"); fi
  [ -n "$v" ] || die "APT knows no source package $s"
  version[$s]=$v
done
# The recipe: this script from "--- 4. build" on, and the toolchain file, without comment lines
# (edits to comments, to the lines above and to the usage text rebuild nothing).
code() { grep -v -E '^[[:space:]]*(#|$)' "$@" | sha256sum | cut -c1-16; }
manifest=$(
  echo "recipe $(sed -n '/^# --- 4\. build/,$p' "$self" | code) toolchain $(code "$toolchain")"
  for s in "${sources[@]}"; do echo "source $s ${version[$s]}"; done
  for p in "${header_only[@]}" g++-mingw-w64-x86-64-posix mingw-w64-x86-64-dev binutils-mingw-w64-x86-64; do
    echo "package $p $(dpkg-query -W -f='${Version}' "$p")"
  done
  echo "cmake $(cmake --version | head -n1)"
)
key=$(echo "$manifest" | sha256sum | cut -c1-12)
prefix=$cache/windows-x86_64-$key
work=$prefix.build
stamp=$prefix/.appose-deps-manifest
complete() { [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$manifest" ]; }

if $print_only || complete; then
  complete && say "up to date" || say "not built yet"
  echo "$prefix"
  exit 0
fi

mkdir -p "$cache"
exec 9>"$cache/windows-x86_64.lock"
if ! flock -n 9; then
  say "another run holds $cache/windows-x86_64.lock: waiting"
  flock 9
fi
if complete; then # built by the run we waited for
  echo "$prefix"
  exit 0
fi

# --- 4. build -------------------------------------------------------------------------------
say "building into $prefix (logs in $work/logs, -j$jobs)"
start=$(date +%s)
# Leftovers of interrupted runs, of this key or another (complete prefixes of other keys stay:
# other branches may use them).
for d in "$cache"/windows-x86_64-*; do
  [ -d "$d" ] || continue
  case "$d" in
    *.build) rm -rf "$d" ;;
    *) [ -f "$d/.appose-deps-manifest" ] || rm -rf "$d" ;;
  esac
done
mkdir -p "$prefix" "$work/src" "$work/logs"

step() { # name command...: runs the command with its output in the step's log
  local name=$1 t0=$(date +%s)
  shift
  # A subshell outside any condition, so that set -e stops the step at its first failure.
  set +e
  (set -e; "$@") >"$work/logs/$name.log" 2>&1
  local rc=$?
  set -e
  if [ $rc -ne 0 ]; then
    say "$name failed; the end of $work/logs/$name.log:"
    tail -n 40 "$work/logs/$name.log" >&2
    exit 1
  fi
  say "  $name: $(($(date +%s) - t0)) s"
}

fetch() {
  cd "$work/src"
  local s args=()
  for s in "${sources[@]}"; do args+=("$s=${version[$s]}"); done
  apt-get source --only-source "${args[@]}"
}
step "apt-get-source" fetch
srcdir() { # source package -> its unpacked directory (<name>-<upstream version>)
  local v=${version[$1]#*:}
  echo "$work/src/$1-${v%-*}"
}

cmake_configure() { # source-dir build-dir cmake-args...
  local src=$1 bld=$2
  shift 2
  cmake -S "$src" -B "$bld" -G Ninja \
    -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DAPPOSE_WINDOWS_DEPS="$prefix" \
    -DCMAKE_CROSSCOMPILING_EMULATOR= \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix" \
    -DBUILD_SHARED_LIBS=OFF -DBUILD_TESTING=OFF "$@"
}
build() { cmake --build "$1" -j "$jobs" ${2:+--target "$2"}; }

build_zlib() {
  # Debian's tarball has no win32/. Only the static library, named libz.a: with a DLL import
  # library beside it FindZLIB would pick that.
  local src b=$work/build/zlib
  src=$(srcdir zlib)
  cmake_configure "$src" "$b"
  build "$b" zlibstatic
  install -D -m 644 "$b/libzlibstatic.a" "$prefix/lib/libz.a"
  install -D -m 644 -t "$prefix/include" "$src/zlib.h" "$b/zconf.h"
  install -D -m 644 -t "$prefix/lib/pkgconfig" "$b/zlib.pc"
}

build_bzip2() {
  # Makefile only; header, library and .pc by hand.
  local src v
  src=$(srcdir bzip2)
  v=${version[bzip2]#*:}
  make -C "$src" -j "$jobs" CC="$triple-gcc-posix" AR="$triple-ar" RANLIB="$triple-ranlib" \
    CFLAGS="-O2 -D_FILE_OFFSET_BITS=64" libbz2.a
  install -D -m 644 "$src/libbz2.a" "$prefix/lib/libbz2.a"
  install -D -m 644 "$src/bzlib.h" "$prefix/include/bzlib.h"
  mkdir -p "$prefix/lib/pkgconfig"
  cat >"$prefix/lib/pkgconfig/bzip2.pc" <<EOF
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: bzip2
Description: Lossless, block-sorting data compression library (static)
Version: ${v%-*}
Libs: -L\${libdir} -lbz2
Cflags: -I\${includedir}
EOF
}

build_xz() {
  # Only liblzma (not the xz tools); consumers that include lzma.h need LZMA_API_STATIC.
  local b=$work/build/xz
  cmake_configure "$(srcdir xz-utils)" "$b"
  build "$b" liblzma
  cmake --install "$b" --component liblzma_Development
  cmake --install "$b" --component liblzma_Runtime
}

build_libarchive() {
  # CMake 3.25 segfaults at the ZLIB_WINAPI try-run when cross compiling: its result is
  # preset. POSIX_REGEX_LIB=NONE (else "libgcc not found"); the multithreaded lzma encoder is
  # in liblzma 5.4 (the check cannot link a static liblzma without LZMA_API_STATIC).
  # CNG goes undetected anyway (Bcrypt.h vs bcrypt.h): only encrypted zip/7z need it.
  local b=$work/build/libarchive
  cmake_configure "$(srcdir libarchive)" "$b" \
    -DCMAKE_C_FLAGS="-DLZMA_API_STATIC" \
    -DZLIB_WINAPI_EXITCODE=1 -DZLIB_WINAPI_EXITCODE__TRYRUN_OUTPUT= \
    -DPOSIX_REGEX_LIB=NONE -DHAVE_LZMA_STREAM_ENCODER_MT=1 \
    -DENABLE_ZLIB=ON -DENABLE_BZip2=ON -DENABLE_LZMA=ON \
    -DENABLE_ZSTD=OFF -DENABLE_LZ4=OFF -DENABLE_LZO=OFF -DENABLE_LIBB2=OFF \
    -DENABLE_OPENSSL=OFF -DENABLE_MBEDTLS=OFF -DENABLE_NETTLE=OFF -DENABLE_CNG=OFF \
    -DENABLE_LIBXML2=OFF -DENABLE_EXPAT=OFF -DENABLE_PCREPOSIX=OFF -DENABLE_LIBGCC=OFF \
    -DENABLE_ICONV=OFF -DENABLE_ACL=OFF -DENABLE_XATTR=OFF \
    -DENABLE_TAR=OFF -DENABLE_CPIO=OFF -DENABLE_CAT=OFF -DENABLE_TEST=OFF -DENABLE_COVERAGE=OFF
  build "$b" archive_static
  install -D -m 644 "$b/libarchive/libarchive_static.a" "$prefix/lib/libarchive.a"
  install -D -m 644 -t "$prefix/include" \
    "$(srcdir libarchive)/libarchive/archive.h" "$(srcdir libarchive)/libarchive/archive_entry.h"
  if [ -f "$b/build/pkgconfig/libarchive.pc" ]; then
    install -D -m 644 -t "$prefix/lib/pkgconfig" "$b/build/pkgconfig/libarchive.pc"
    sed -i 's/^Cflags: .*/& -DLIBARCHIVE_STATIC/' "$prefix/lib/pkgconfig/libarchive.pc"
  fi
}

build_yaml_cpp() {
  local b=$work/build/yaml-cpp
  cmake_configure "$(srcdir yaml-cpp)" "$b" \
    -DYAML_BUILD_SHARED_LIBS=OFF -DYAML_CPP_BUILD_TESTS=OFF -DYAML_CPP_BUILD_TOOLS=OFF \
    -DYAML_CPP_BUILD_CONTRIB=OFF -DYAML_CPP_INSTALL=ON
  build "$b"
  cmake --install "$b"
}

build_curl() {
  # TLS through Windows' Schannel (CA store of the system); no other TLS, LDAP, HTTP/2, SSH,
  # brotli, zstd. The static target's config carries CURL_STATICLIB.
  local b=$work/build/curl
  cmake_configure "$(srcdir curl)" "$b" \
    -DBUILD_CURL_EXE=OFF -DENABLE_MANUAL=OFF -DBUILD_LIBCURL_DOCS=OFF \
    -DCURL_USE_SCHANNEL=ON -DCURL_USE_OPENSSL=OFF -DCURL_USE_MBEDTLS=OFF \
    -DCURL_USE_BEARSSL=OFF -DCURL_USE_WOLFSSL=OFF -DCURL_USE_NSS=OFF -DCURL_USE_GNUTLS=OFF \
    -DCURL_DISABLE_LDAP=ON -DCURL_DISABLE_LDAPS=ON -DUSE_NGHTTP2=OFF -DUSE_NGTCP2=OFF \
    -DUSE_QUICHE=OFF -DUSE_MSH3=OFF -DUSE_LIBIDN2=OFF \
    -DCURL_USE_LIBSSH2=OFF -DCURL_USE_LIBSSH=OFF -DCURL_USE_GSSAPI=OFF \
    -DCURL_BROTLI=OFF -DCURL_ZSTD=OFF -DCURL_ZLIB=ON \
    -DCURL_CA_BUNDLE=none -DCURL_CA_PATH=none
  build "$b"
  cmake --install "$b"
}

build_googletest() {
  local b=$work/build/googletest
  cmake_configure "$(srcdir googletest)" "$b" -Dgtest_disable_pthreads=ON \
    -DBUILD_GMOCK=ON -DINSTALL_GTEST=ON
  build "$b"
  cmake --install "$b"
}

build_fmt() {
  local b=$work/build/fmt
  cmake_configure "$(srcdir fmtlib)" "$b" -DFMT_DOC=OFF -DFMT_TEST=OFF -DFMT_FUZZ=OFF -DFMT_INSTALL=ON
  build "$b"
  cmake --install "$b"
}

header_only() {
  # nlohmann-json and CLI11: Debian's headers and relocatable CMake configs, as they are.
  mkdir -p "$prefix/include" "$prefix/share/cmake" "$prefix/share/pkgconfig" \
    "$prefix/lib/cmake/tomlplusplus"
  cp -a /usr/include/nlohmann /usr/include/CLI /usr/include/toml++ "$prefix/include/"
  cp -a /usr/share/cmake/nlohmann_json /usr/share/cmake/CLI11 "$prefix/share/cmake/"
  local pc
  for pc in nlohmann_json CLI11; do
    { echo "prefix=$prefix"
      sed '/^prefix=/d; s|/usr/include|${prefix}/include|g' "/usr/share/pkgconfig/$pc.pc"
    } >"$prefix/share/pkgconfig/$pc.pc"
  done
  # toml++: Debian's config imports its shared library; here the header-only mode.
  cp /usr/lib/x86_64-linux-gnu/cmake/tomlplusplus/tomlplusplusConfigVersion.cmake \
    "$prefix/lib/cmake/tomlplusplus/"
  cat >"$prefix/lib/cmake/tomlplusplus/tomlplusplusConfig.cmake" <<'EOF'
# toml++ from Debian's libtomlplusplus-dev headers, header-only (TOML_HEADER_ONLY defaults to 1).
get_filename_component(_toml_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
if(NOT TARGET tomlplusplus::tomlplusplus)
  add_library(tomlplusplus::tomlplusplus INTERFACE IMPORTED)
  set_target_properties(tomlplusplus::tomlplusplus PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${_toml_prefix}/include"
    INTERFACE_COMPILE_FEATURES cxx_std_17)
endif()
unset(_toml_prefix)
EOF
}

find_modules() {
  # Wrappers around CMake's find modules for what the static libraries need.
  local m=$prefix/share/cmake/Modules
  mkdir -p "$m"
  cat >"$m/FindLibLZMA.cmake" <<'EOF'
# CMake's FindLibLZMA, for the static liblzma of this prefix: LZMA_API_STATIC.
include("${CMAKE_ROOT}/Modules/FindLibLZMA.cmake")
if(TARGET LibLZMA::LibLZMA)
  set_property(TARGET LibLZMA::LibLZMA APPEND PROPERTY INTERFACE_COMPILE_DEFINITIONS LZMA_API_STATIC)
endif()
EOF
  cat >"$m/FindLibArchive.cmake" <<'EOF'
# CMake's FindLibArchive, for the static libarchive of this prefix: LIBARCHIVE_STATIC, and the
# codecs (liblzma, bz2, z) and Windows libraries it links.
include("${CMAKE_ROOT}/Modules/FindLibArchive.cmake")
if(LibArchive_FOUND)
  find_package(LibLZMA REQUIRED)
  find_package(BZip2 REQUIRED)
  find_package(ZLIB REQUIRED)
  list(APPEND LibArchive_LIBRARIES ${LIBLZMA_LIBRARIES} ${BZIP2_LIBRARIES} ${ZLIB_LIBRARIES})
  if(TARGET LibArchive::LibArchive)
    set_property(TARGET LibArchive::LibArchive APPEND PROPERTY
      INTERFACE_COMPILE_DEFINITIONS LIBARCHIVE_STATIC)
    set_property(TARGET LibArchive::LibArchive APPEND PROPERTY
      INTERFACE_LINK_LIBRARIES LibLZMA::LibLZMA BZip2::BZip2 ZLIB::ZLIB)
  endif()
endif()
EOF
}

step zlib build_zlib
step bzip2 build_bzip2
step xz build_xz
step libarchive build_libarchive
step yaml-cpp build_yaml_cpp
step curl build_curl
step googletest build_googletest
step fmt build_fmt
step header-only header_only
step find-modules find_modules

echo "$manifest" >"$stamp"
rm -rf "$work"
say "done in $(($(date +%s) - start)) s: $(du -sh "$prefix" | cut -f1)"
echo "$prefix"
