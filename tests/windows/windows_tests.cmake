# The Windows tests (included by tests/CMakeLists.txt when WIN32): cross-built with mingw-w64
# and run under Wine, the toolchain's CMAKE_CROSSCOMPILING_EMULATOR, which appose_add_test puts
# after its variables. Label `windows` alone: gtest_discover_tests (CMake 3.25) splits a
# list-valued LABELS property, so a test has one label (as the `network` tests do). Run them
# with scripts/windows.sh, or `ctest --preset windows -L windows` inside a running Wine.

# Portable unit tests: the same files as on Linux.
foreach(test IN ITEMS value utf8 json line_scan messages resolve sha256 line_splitter line_reader
    conformance scheme appose_check wake_wait alarm host_os environment_layout request_writer)
  appose_add_test(${test}_test LABELS windows SOURCES unit/${test}_test.cpp)
endforeach()
# Left out, and why:
#  ndarray_test, shared_memory_test, shm_registry_test: they look blocks up in /dev/shm (and
#    statvfs it); tests/windows/shm_test.cpp covers shared memory on Windows.
#  process_test, lifeline_test, tool_test: fork, signals, /bin/sh and pidfds; the Windows
#    process layer has tests/windows/process_test.cpp and pump_test.cpp.
#  builder_test, standin_build_test, build_lock_test, tool_install_test, download_test,
#    url_build_test, error_fields_test: their stand-in tools are shell scripts, their HTTP
#    server (tests/support/http_server.cpp) speaks POSIX sockets.
#  environment_test: sets executable bits and runs /bin/sh scripts as workers;
#    environment_layout_test checks the Windows layout instead.
#  interop, fault, soak, cli, docs tests: they run the peers (CPython, a JDK), POSIX helpers
#    (hostile_worker's signals, forkpty) or Linux's /proc; the Windows end-to-end tests below
#    cover the service, the worker and the CLI.

# The platform layer's own tests, written with the Windows implementations (registered once
# their files exist). process_test and pump_test spawn child_main.cpp's program, which they
# find as appose_win_child.exe beside themselves; files_test, shm_test and worker_platform_test are their
# own helper children (test_child.cpp holds their main()).
set(_win ${CMAKE_CURRENT_SOURCE_DIR}/windows)
if(EXISTS ${_win}/child_main.cpp)
  add_executable(windows_test_child windows/child_main.cpp)
  set_target_properties(windows_test_child PROPERTIES OUTPUT_NAME appose_win_child)
  # wmain(): the UTF-16 arguments; CommandLineToArgvW is shell32's.
  target_link_options(windows_test_child PRIVATE -municode)
  target_link_libraries(windows_test_child PRIVATE appose_internal shell32)
  appose_set_warnings(windows_test_child)
endif()
foreach(test IN ITEMS process pump worker_platform files shm)
  if(NOT EXISTS ${_win}/${test}_test.cpp)
    continue()
  endif()
  set(_sources windows/${test}_test.cpp)
  if(test MATCHES "^(worker_platform|files|shm)$" AND EXISTS ${_win}/test_child.cpp)
    list(APPEND _sources windows/test_child.cpp)
  endif()
  appose_add_test(windows_${test}_test LABELS windows SOURCES ${_sources})
  target_link_libraries(windows_${test}_test PRIVATE appose_internal shell32)
  if(test MATCHES "^(process|pump)$" AND TARGET windows_test_child)
    add_dependencies(windows_${test}_test windows_test_child)
  endif()
endforeach()

# End to end: a C++ service driving the C++ worker, and the CLI driving it as a Python worker.
if(APPOSE_BUILD_EXAMPLES)
  appose_add_test(windows_e2e_test LABELS windows SOURCES windows/e2e_test.cpp)
  add_dependencies(windows_e2e_test worker_ops)
  target_compile_definitions(windows_e2e_test PRIVATE
    APPOSE_WORKER_OPS="$<TARGET_FILE:worker_ops>")
  if(APPOSE_BUILD_CLI)
    appose_add_test(windows_cli_test LABELS windows SOURCES windows/cli_e2e_test.cpp)
    add_dependencies(windows_cli_test worker_ops appose_cli)
    target_compile_definitions(windows_cli_test PRIVATE
      APPOSE_WORKER_OPS="$<TARGET_FILE:worker_ops>" APPOSE_CLI="$<TARGET_FILE:appose_cli>")
  endif()
endif()

# A program built against the installed prefix with the toolchain file, as a Windows user's
# project would be, run under Wine; it also runs a task on worker_ops.exe.
add_subdirectory(consumer)

# The test programs are installed on request (scripts/windows.sh: `cmake --install <build>
# --component windows_tests`), to copy to a Windows machine; they find worker_ops and the CLI
# at their build paths, so there they run the tests that need neither.
get_property(_tests DIRECTORY PROPERTY BUILDSYSTEM_TARGETS)
list(FILTER _tests INCLUDE REGEX "_test$|^windows_test_child$")
if(APPOSE_INSTALL AND _tests)
  install(TARGETS ${_tests} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}/tests
    COMPONENT windows_tests EXCLUDE_FROM_ALL)
endif()
