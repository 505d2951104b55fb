include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(APPOSE_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/appose")

install(TARGETS appose EXPORT apposeTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/appose" DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES "${PROJECT_BINARY_DIR}/include/appose/export.hpp"
  "${PROJECT_BINARY_DIR}/include/appose/version.hpp"
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/appose)
install(EXPORT apposeTargets NAMESPACE appose:: DESTINATION ${APPOSE_CMAKE_DIR})

get_target_property(APPOSE_LIBRARY_TYPE appose TYPE)
configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/apposeConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/apposeConfig.cmake" INSTALL_DESTINATION ${APPOSE_CMAKE_DIR})
write_basic_package_version_file("${PROJECT_BINARY_DIR}/apposeConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/apposeConfig.cmake"
  "${PROJECT_BINARY_DIR}/apposeConfigVersion.cmake" DESTINATION ${APPOSE_CMAKE_DIR})

# pkg-config: plain `pkg-config --libs appose` must link. A static libappose leaves its
# dependencies' symbols unresolved, so they go in Libs; a shared one records them itself (its
# DT_NEEDED), so they go in Libs.private, for `--static` only. They are named as -l flags
# rather than Requires: a required module's Cflags (tomlplusplus.pc's TOML_* definitions) would
# otherwise leak into every program that includes appose's headers, which never include them.
# fmt is among them only when it is linked: a shared fmt is compiled in (CMakeLists.txt).
set(APPOSE_PC_DEPENDENCY_LIBS "-ltomlplusplus -lyaml-cpp -lcurl -larchive -pthread")
if(APPOSE_FMT STREQUAL "fmt::fmt")
  string(PREPEND APPOSE_PC_DEPENDENCY_LIBS "-lfmt ")
endif()
if(APPOSE_LIBRARY_TYPE STREQUAL "STATIC_LIBRARY")
  set(APPOSE_PC_LIBS "${APPOSE_PC_DEPENDENCY_LIBS}")
  set(APPOSE_PC_PRIVATE_LIBS "")
  set(APPOSE_PC_CFLAGS "-DAPPOSE_STATIC_DEFINE")
else()
  set(APPOSE_PC_LIBS "")
  set(APPOSE_PC_PRIVATE_LIBS "${APPOSE_PC_DEPENDENCY_LIBS}")
  set(APPOSE_PC_CFLAGS "")
endif()
# Relocatable: the prefix is found from the .pc file's own location, so `cmake --install
# --prefix` anywhere yields a working file.
file(RELATIVE_PATH APPOSE_PC_TO_PREFIX "/root/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/root")
configure_file("${PROJECT_SOURCE_DIR}/cmake/appose.pc.in" "${PROJECT_BINARY_DIR}/appose.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/appose.pc" DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
