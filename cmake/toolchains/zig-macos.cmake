# Cross-compiles for macOS from Linux with zig (PyPI package ziglang): Mach-O arm64 or x86_64,
# libc++ linked statically, the system's libcurl and libarchive through text stubs (.tbd).
#
#   prefix=$(scripts/macos-deps.sh aarch64-macos | tail -n1)
#   cmake -S . -B build/macos-arm64 -G Ninja \
#     -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/zig-macos.cmake \
#     -DAPPOSE_ZIG_TARGET=aarch64-macos -DAPPOSE_MACOS_DEPS="$prefix"
#
# Settings (cache variables or environment variables of the same name):
#   APPOSE_ZIG_TARGET  aarch64-macos or x86_64-macos (required)
#   APPOSE_MACOS_DEPS  the dependency prefix scripts/macos-deps.sh printed (required); it is
#                      CMAKE_FIND_ROOT_PATH, and nothing is searched outside it but programs
#   APPOSE_MACOS_MIN   the oldest macOS the binaries run on (default below; the prefix records
#                      the value its libraries were built with and a different one is an error)
#   APPOSE_ZIG         the zig executable (default: the one scripts/macos-deps.sh installed in
#                      ${APPOSE_DEPS_CACHE:-$HOME/.cache/appose-cpp}/zig-<version>)
#
# Minimum macOS: zig ignores -mmacosx-version-min (and so CMAKE_OSX_DEPLOYMENT_TARGET) once
# -target is given and would default to its newest macOS, so the version goes into the target
# triple (aarch64-macos.14.0) of every compile and link, through the wrappers generated below.
# 14.0 is the oldest macOS whose /usr/lib/libcurl.4.dylib has everything src/ uses: the
# functions, of which curl_multi_poll (7.66) is the newest, are also in macOS 12's curl 7.77, but
# CURLOPT_PROTOCOLS_STR and CURLOPT_REDIR_PROTOCOLS_STR (src/build/download.cpp) are curl 7.85
# options, and macOS 13.0 ships curl 7.84 (macOS 14.0: curl 8.x). An option a library lacks is
# not a link error but CURLE_UNKNOWN_OPTION at run time, which no stub can catch; with a fallback
# to CURLOPT_PROTOCOLS in src/, 12.0 would do (APPOSE_MACOS_MIN=12.0, both here and in
# scripts/macos-deps.sh, whose stubs then leave out what macOS 12 lacks).
set(APPOSE_MACOS_MIN_DEFAULT "14.0")
set(APPOSE_ZIG_VERSION "0.17.1")

# try_compile() projects read this file again: hand them the same settings.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES
  APPOSE_ZIG_TARGET APPOSE_MACOS_DEPS APPOSE_MACOS_MIN APPOSE_ZIG APPOSE_ZIG_WRAPPER_DIR)

foreach(_appose_var APPOSE_ZIG_TARGET APPOSE_MACOS_DEPS APPOSE_MACOS_MIN APPOSE_ZIG)
  if(NOT ${_appose_var} AND DEFINED ENV{${_appose_var}})
    set(${_appose_var} "$ENV{${_appose_var}}")
  endif()
endforeach()

if(NOT APPOSE_ZIG_TARGET MATCHES "^(aarch64|x86_64)-macos$")
  message(FATAL_ERROR "zig-macos.cmake: set APPOSE_ZIG_TARGET to aarch64-macos or x86_64-macos "
    "(not '${APPOSE_ZIG_TARGET}'); the minimum macOS is APPOSE_MACOS_MIN, not part of it")
endif()
if(NOT APPOSE_MACOS_DEPS OR NOT IS_DIRECTORY "${APPOSE_MACOS_DEPS}")
  message(FATAL_ERROR "zig-macos.cmake: set APPOSE_MACOS_DEPS to the prefix that "
    "scripts/macos-deps.sh ${APPOSE_ZIG_TARGET} prints on its last line "
    "(not '${APPOSE_MACOS_DEPS}')")
endif()
get_filename_component(APPOSE_MACOS_DEPS "${APPOSE_MACOS_DEPS}" ABSOLUTE)

# The prefix says which target and minimum its static libraries were built for: mixing
# minimum versions links, and then fails on the older Mac.
set(_appose_stamp "${APPOSE_MACOS_DEPS}/share/appose-macos-deps/target")
if(EXISTS "${_appose_stamp}")
  file(READ "${_appose_stamp}" _appose_built)
  string(STRIP "${_appose_built}" _appose_built)
  if(NOT _appose_built MATCHES "^(aarch64|x86_64)-macos\\.([0-9.]+)$")
    message(FATAL_ERROR "zig-macos.cmake: ${_appose_stamp} says '${_appose_built}'")
  endif()
  set(_appose_built_min "${CMAKE_MATCH_2}")
  if(NOT APPOSE_MACOS_MIN)
    set(APPOSE_MACOS_MIN "${_appose_built_min}")
  endif()
  if(NOT _appose_built STREQUAL "${APPOSE_ZIG_TARGET}.${APPOSE_MACOS_MIN}")
    message(FATAL_ERROR "zig-macos.cmake: the prefix ${APPOSE_MACOS_DEPS} was built for "
      "${_appose_built}, not ${APPOSE_ZIG_TARGET}.${APPOSE_MACOS_MIN}")
  endif()
endif()
if(NOT APPOSE_MACOS_MIN)
  set(APPOSE_MACOS_MIN "${APPOSE_MACOS_MIN_DEFAULT}")
endif()
if(NOT APPOSE_MACOS_MIN MATCHES "^[0-9]+\\.[0-9]+(\\.[0-9]+)?$")
  message(FATAL_ERROR "zig-macos.cmake: APPOSE_MACOS_MIN must look like 14.0, "
    "not '${APPOSE_MACOS_MIN}'")
endif()
set(APPOSE_ZIG_TRIPLE "${APPOSE_ZIG_TARGET}.${APPOSE_MACOS_MIN}")

if(NOT APPOSE_ZIG)
  if(DEFINED ENV{APPOSE_DEPS_CACHE})
    set(_appose_cache "$ENV{APPOSE_DEPS_CACHE}")
  else()
    set(_appose_cache "$ENV{HOME}/.cache/appose-cpp")
  endif()
  file(GLOB _appose_zigs
    "${_appose_cache}/zig-${APPOSE_ZIG_VERSION}/lib/python3*/site-packages/ziglang/zig")
  if(NOT _appose_zigs)
    message(FATAL_ERROR "zig-macos.cmake: no zig ${APPOSE_ZIG_VERSION} under "
      "${_appose_cache}: run scripts/macos-deps.sh, or set APPOSE_ZIG")
  endif()
  list(GET _appose_zigs 0 APPOSE_ZIG)
endif()
if(NOT EXISTS "${APPOSE_ZIG}")
  message(FATAL_ERROR "zig-macos.cmake: APPOSE_ZIG=${APPOSE_ZIG} does not exist")
endif()

# Wrappers: CMake wants one executable per tool, and the target triple must reach every compile
# and link. Generated once per build tree (try_compile projects reuse the top-level ones).
if(NOT APPOSE_ZIG_WRAPPER_DIR)
  set(APPOSE_ZIG_WRAPPER_DIR "${CMAKE_BINARY_DIR}/zig-macos")
endif()
# -fno-cxx-modules: with C++20 modules on (clang's default for -std=c++20), __has_feature(modules)
# is true, zig's macOS <math.h> then includes <float.h> for NAN alone, libc++'s <float.h> guard
# keeps the full one out later, and FLT_MAX, DBL_MAX and FLT_RADIX are missing wherever <cmath>
# comes before <cfloat> (GoogleTest, toml++). Nothing here uses C++20 modules.
foreach(_appose_tool cc c++ ar ranlib)
  set(APPOSE_ZIG_TOOL "${_appose_tool}")
  if(_appose_tool STREQUAL "cc")
    set(APPOSE_ZIG_TOOL_ARGS " -target ${APPOSE_ZIG_TRIPLE}")
  elseif(_appose_tool STREQUAL "c++")
    set(APPOSE_ZIG_TOOL_ARGS " -target ${APPOSE_ZIG_TRIPLE} -fno-cxx-modules")
  else()
    set(APPOSE_ZIG_TOOL_ARGS "")
  endif()
  configure_file("${CMAKE_CURRENT_LIST_DIR}/zig-wrapper.sh.in"
    "${APPOSE_ZIG_WRAPPER_DIR}/zig-${_appose_tool}" @ONLY
    FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
    WORLD_READ WORLD_EXECUTE)
endforeach()

set(CMAKE_SYSTEM_NAME Darwin)
if(APPOSE_ZIG_TARGET MATCHES "^aarch64")
  set(CMAKE_SYSTEM_PROCESSOR arm64)
else()
  set(CMAKE_SYSTEM_PROCESSOR x86_64)
endif()
# Darwin 23 is macOS 14; only informative (CMake does not use it for flags).
string(REGEX MATCH "^[0-9]+" _appose_major "${APPOSE_MACOS_MIN}")
math(EXPR CMAKE_SYSTEM_VERSION "${_appose_major} + 9")

set(CMAKE_C_COMPILER "${APPOSE_ZIG_WRAPPER_DIR}/zig-cc")
set(CMAKE_CXX_COMPILER "${APPOSE_ZIG_WRAPPER_DIR}/zig-c++")
set(CMAKE_AR "${APPOSE_ZIG_WRAPPER_DIR}/zig-ar" CACHE FILEPATH "zig ar" FORCE)
set(CMAKE_RANLIB "${APPOSE_ZIG_WRAPPER_DIR}/zig-ranlib" CACHE FILEPATH "zig ranlib" FORCE)
# Informative only (zig ignores -mmacosx-version-min when -target is given): the triple rules.
# No sysroot and no -arch: zig brings its own macOS headers and libSystem stubs.
set(CMAKE_OSX_DEPLOYMENT_TARGET "${APPOSE_MACOS_MIN}" CACHE STRING "see APPOSE_MACOS_MIN" FORCE)
set(CMAKE_OSX_SYSROOT "" CACHE PATH "zig has its own macOS SDK files" FORCE)
set(CMAKE_OSX_ARCHITECTURES "" CACHE STRING "one architecture per build: APPOSE_ZIG_TARGET" FORCE)

# Search the dependency prefix only; programs (pkg-config, python, ...) are the host's.
set(CMAKE_FIND_ROOT_PATH "${APPOSE_MACOS_DEPS}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# The stubs of the system libraries (libcurl.tbd, libarchive.tbd) and the static libraries.
list(APPEND CMAKE_LIBRARY_PATH "${APPOSE_MACOS_DEPS}/lib")
list(REMOVE_DUPLICATES CMAKE_LIBRARY_PATH)
# The host's pkg-config would hand out Linux include and library paths.
set(ENV{PKG_CONFIG_LIBDIR} "${APPOSE_MACOS_DEPS}/lib/pkgconfig:${APPOSE_MACOS_DEPS}/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "")
