# appose_embed_file(<input> <output header> <identifier>)
#
# Compiles a file into the library as bytes: writes <output header> (in the build tree) holding
# `inline constexpr char <identifier>[]` with the file's exact bytes, no terminating NUL. The
# bytes are spelled as character escapes, so that no content (a quote, a raw-string delimiter,
# CRLF, non-ASCII) changes on the way and no compiler's limit on string literals applies. The
# input is a configure dependency: editing it re-runs CMake, and the header is rewritten only
# when the bytes differ, so that nothing else is rebuilt.
function(appose_embed_file input output identifier)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${input}")
  file(READ "${input}" hex HEX)
  string(LENGTH "${hex}" hex_length)
  if(hex_length EQUAL 0)
    message(FATAL_ERROR "appose_embed_file: ${input} is empty")
  endif()
  # Sixteen bytes to a line.
  string(REPEAT "[0-9a-f]" 32 sixteen_bytes)
  string(REGEX REPLACE "(${sixteen_bytes})" "\\1\n" hex "${hex}")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${hex}")
  string(STRIP "${bytes}" bytes)
  string(REGEX REPLACE ",\n" ",\n    " bytes "${bytes}")
  file(RELATIVE_PATH APPOSE_EMBED_SOURCE "${PROJECT_SOURCE_DIR}" "${input}")
  set(APPOSE_EMBED_IDENTIFIER "${identifier}")
  set(APPOSE_EMBED_BYTES "    ${bytes}")
  configure_file("${PROJECT_SOURCE_DIR}/cmake/embedded_file.hpp.in" "${output}" @ONLY)
endfunction()
