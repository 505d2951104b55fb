# Cross-compiling appose-cpp for 64-bit Windows from Debian 12 with mingw-w64 (posix threads),
# tests run under Wine. See docs in scripts/windows-deps.sh, which builds the dependency prefix:
#
#   export APPOSE_WINDOWS_DEPS=$(scripts/windows-deps.sh)
#   cmake -S . -B build/windows -G Ninja \
#     -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/mingw-w64.cmake   # or: --preset windows
#
# APPOSE_WINDOWS_DEPS (cache variable, else the environment variable of that name) is the
# prefix holding the static Windows builds of the dependencies. find_package/find_library/
# find_path look only there (and in the mingw-w64 sysroot), never in the Linux system;
# find_program looks only in the Linux system.
# Executables link the compiler runtime statically (-static), so a .exe imports only system
# DLLs and runs alone. ctest runs tests through CMAKE_CROSSCOMPILING_EMULATOR = Wine.

set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR AMD64)

set(APPOSE_MINGW_TRIPLE x86_64-w64-mingw32)
# The posix-threads variants: std::thread, std::mutex, std::filesystem work (the win32
# variants lack std::thread in GCC 12).
set(CMAKE_C_COMPILER ${APPOSE_MINGW_TRIPLE}-gcc-posix)
set(CMAKE_CXX_COMPILER ${APPOSE_MINGW_TRIPLE}-g++-posix)
set(CMAKE_RC_COMPILER ${APPOSE_MINGW_TRIPLE}-windres)

# The dependency prefix: a cache variable, defaulting to the environment variable.
if(NOT APPOSE_WINDOWS_DEPS AND DEFINED ENV{APPOSE_WINDOWS_DEPS})
  set(APPOSE_WINDOWS_DEPS "$ENV{APPOSE_WINDOWS_DEPS}" CACHE PATH
    "Prefix of the static Windows dependencies (printed by scripts/windows-deps.sh)" FORCE)
endif()
if(NOT APPOSE_WINDOWS_DEPS OR NOT IS_DIRECTORY "${APPOSE_WINDOWS_DEPS}")
  message(FATAL_ERROR "mingw-w64 toolchain: APPOSE_WINDOWS_DEPS ('${APPOSE_WINDOWS_DEPS}') is not "
    "a directory. Build the dependencies and pass their prefix:\n"
    "  export APPOSE_WINDOWS_DEPS=$(scripts/windows-deps.sh)")
endif()
# try_compile projects read this file again: hand them the prefix.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES APPOSE_WINDOWS_DEPS)

# Search the prefix (and the mingw-w64 sysroot) only, for libraries, headers and packages;
# programs (wine, python, ...) come from the build machine.
set(CMAKE_FIND_ROOT_PATH "${APPOSE_WINDOWS_DEPS}" "/usr/${APPOSE_MINGW_TRIPLE}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
list(APPEND CMAKE_PREFIX_PATH "${APPOSE_WINDOWS_DEPS}")
# Find modules for the prefix's static libraries (FindLibArchive: LIBARCHIVE_STATIC and the
# codecs it needs; FindLibLZMA: LZMA_API_STATIC), ahead of CMake's own.
if(IS_DIRECTORY "${APPOSE_WINDOWS_DEPS}/share/cmake/Modules")
  list(PREPEND CMAKE_MODULE_PATH "${APPOSE_WINDOWS_DEPS}/share/cmake/Modules")
endif()
# pkg-config, if anything asks it, sees the prefix and not the Linux system.
set(ENV{PKG_CONFIG_LIBDIR} "${APPOSE_WINDOWS_DEPS}/lib/pkgconfig:${APPOSE_WINDOWS_DEPS}/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# Static compiler runtime (libgcc, libstdc++, winpthread): .exe and .dll files need no
# mingw DLL beside them.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static -static-libgcc -static-libstdc++")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static -static-libgcc -static-libstdc++")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "-static -static-libgcc -static-libstdc++")

# Wine runs the tests (ctest, gtest_discover_tests, try_run). Debian's wine64 package has the
# loader at /usr/lib/wine/wine64; the wine package adds /usr/bin/wine. Pass
# -DCMAKE_CROSSCOMPILING_EMULATOR= to do without (scripts/windows-deps.sh does).
# Wine's first program in a WINEPREFIX starts Wine's services (services.exe, rpcss.exe, ...),
# which inherit its stdout: under ctest each test then waits ~4 s for them to end with the
# wineserver. Start them beforehand, detached, and tests take milliseconds:
#   /usr/lib/wine/wineserver -p >/dev/null 2>&1 </dev/null     # persistent
#   /usr/lib/wine/wine64 wineboot >/dev/null 2>&1 </dev/null   # services, on /dev/null
#   ctest ...; /usr/lib/wine/wineserver -k
# Never make the wineserver persistent without the wineboot: ctest then waits forever on the
# services that the first test started.
if(NOT DEFINED CMAKE_CROSSCOMPILING_EMULATOR)
  find_program(APPOSE_WINE NAMES wine64 wine PATHS /usr/lib/wine NO_CMAKE_FIND_ROOT_PATH
    DOC "Wine loader that runs the Windows test executables")
  if(APPOSE_WINE)
    set(CMAKE_CROSSCOMPILING_EMULATOR "${APPOSE_WINE}")
  else()
    message(WARNING "mingw-w64 toolchain: no Wine found (apt-get install wine64): "
      "the Windows executables build but ctest cannot run them")
  endif()
endif()
