// A shared-memory round trip with Python: C++ makes an array, a Python process attaches to
// the same block by name (through appose-python) and doubles every element in place, C++ sees
// the result. Only the block's name, dtype and shape cross the process boundary.
//
// Usage: shm_python_roundtrip <python-with-appose-and-numpy>

#include <appose/appose.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <python with appose and numpy>\n", argv[0]);
    return 2;
  }
  appose::NDArray image(appose::DType::float32, appose::Shape{2, 3});
  auto pixels = image.span<float>();
  for (std::size_t i = 0; i < pixels.size(); ++i)
    pixels[i] = static_cast<float>(i);

  // The wire form is all the other process needs.
  std::string wire = appose::Value(image).to_json().dump();
  std::printf("C++ shares: %s\n", wire.c_str());

  // The Python side only attaches, so it unregisters the block from its resource tracker:
  // otherwise Python would unlink a block it does not own when it exits.
  std::string script =
      "import json, sys; from multiprocessing import resource_tracker; "
      "from appose.util import message; import appose.shm; "
      "a = message.decode(sys.argv[1]); "
      "resource_tracker.unregister(a.shm._name, 'shared_memory'); "
      "arr = a.ndarray(); arr *= 2; print('Python sees', arr.tolist()); a.shm.close()";
  std::string command = std::string(argv[1]) + " -c \"" + script + "\" '" + wire + "'";
  if (std::system(command.c_str()) != 0) {
    std::fprintf(stderr, "the Python side failed\n");
    return 1;
  }
  std::printf("C++ sees:");
  for (float x : pixels)
    std::printf(" %g", static_cast<double>(x));
  std::printf("\n");
  return 0;
}
