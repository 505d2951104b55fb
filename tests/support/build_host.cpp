// A host for the two-process build test (tests/unit/standin_build_test.cpp): builds the pixi
// environment `<name>` with the pixi executable given (a stand-in), printing each progress
// title on its own line as it comes, so that the test can see which process waited for the
// other. Exits 0 when built or up to date, 1 with the message on a BuildException.
//
//   build_host <pixi> <name>

#include <cstdint>
#include <cstdio>
#include <iostream>
#include <string_view>

#include <appose/builder.hpp>
#include <appose/error.hpp>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: build_host <pixi> <name>\n";
    return 2;
  }
  try {
    (void)appose::pixi()
        .conda({"appose"})
        .executable(argv[1])
        .subscribe_progress([](std::string_view title, std::int64_t, std::int64_t) {
          // Flushed at once: the test reads the order of titles across a wait.
          std::cout << title << std::endl;
        })
        .build(argv[2]);
    return 0;
  } catch (const appose::BuildException& e) {
    std::cout << "build_host: " << e.what() << std::endl;
    std::cerr << "build_host: " << e.what() << "\n";
    return 1;
  }
}
