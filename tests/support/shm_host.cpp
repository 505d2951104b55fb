// A host for the crash-registry test (tests/unit/shm_registry_test.cpp): creates `argv[1]`
// owned blocks and one block it keeps on purpose (unlink_on_close(false)), prints their names
// (owned first, the kept one last, one per line), and sleeps until it is killed. The test
// SIGKILLs it, so nothing of its own cleanup runs.

#include <unistd.h>

#include <appose/shared_memory.hpp>
#include <cstdlib>
#include <iostream>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: shm_host <number of owned blocks>\n";
    return 2;
  }
  std::vector<appose::SharedMemory> blocks;
  const int n = std::atoi(argv[1]);
  for (int i = 0; i < n; ++i) {
    blocks.push_back(appose::SharedMemory::create(4096));
    std::cout << blocks.back().name() << "\n";
  }
  blocks.push_back(appose::SharedMemory::create(4096));
  blocks.back().unlink_on_close(false);
  std::cout << blocks.back().name() << std::endl;  // endl flushes: the test reads it now
  for (;;)
    ::pause();
}
