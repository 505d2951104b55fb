# Warnings are set per target, never globally, so that consumers who add_subdirectory(appose)
# keep their own flags.
function(appose_set_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wnon-virtual-dtor
    -Wold-style-cast -Woverloaded-virtual -Wnull-dereference -Wformat=2
    -Wimplicit-fallthrough)
  if(APPOSE_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
