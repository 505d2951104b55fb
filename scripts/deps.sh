#!/usr/bin/env bash
# Installs the Debian 12 packages appose-cpp builds and tests with, if any is missing:
#   scripts/deps.sh        what the build, the tests and the demo need (OpenCV's core,
#                          imgproc and imgcodecs for examples/segment and examples/filters)
#   scripts/deps.sh ci     also what CI's extra checks need (valgrind; clang and its
#                          libFuzzer runtime for scripts/fuzz.sh; the mingw-w64 cross compiler,
#                          Wine and dpkg-dev for scripts/windows.sh)
# Needs root (or sudo) only when something is actually missing.
set -euo pipefail

packages=(
  cmake ninja-build g++ ccache pkg-config clang-format
  nlohmann-json3-dev libtomlplusplus-dev libyaml-cpp-dev libcurl4-openssl-dev libarchive-dev libcli11-dev libfmt-dev libgtest-dev libgmock-dev googletest
  python3 python3-venv util-linux
  openjdk-17-jdk-headless maven
  libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev
)
if [ "${1:-}" = ci ]; then
  packages+=(valgrind clang-14 libclang-rt-14-dev)
  packages+=(g++-mingw-w64-x86-64-posix binutils-mingw-w64-x86-64 wine64 dpkg-dev)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all Debian packages present"
  exit 0
fi
echo "deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
