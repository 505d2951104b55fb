// The README demo: build a Python environment with uv (or find it up to date), start
// appose-python's worker in it, hand it an image in shared memory, watch its progress, and read
// back its result and an array it made.
//
// Usage: python_demo [environment name or directory]   (default: appose-cpp-demo under
// ~/.local/share/appose, or $APPOSE_ENVS_DIR). uv is found through $APPOSE_UV, the peers'
// cache (<envs>/.uv/bin/uv) or PATH; scripts/demo.sh points APPOSE_UV at the uv it installs.

#include <appose/appose.hpp>

#include <chrono>
#include <cstdio>
#include <exception>

int main(int argc, char** argv) {
  const std::string where = argc > 1 ? argv[1] : "appose-cpp-demo";
  try {
    const auto t0 = std::chrono::steady_clock::now();
    appose::Environment env =
        appose::uv()
            .include({"appose==0.12.0", "numpy"})
            .subscribe_progress([](std::string_view title, std::int64_t, std::int64_t) {
              std::printf("build: %.*s\n", static_cast<int>(title.size()), title.data());
            })
            .build(where);
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - t0;
    std::printf("environment %s ready in %.2f s\n", env.base().c_str(), took.count());

    appose::Service python = env.python();
    python.init("import numpy");  // import before the worker reads stdin (appose issue #23)

    // 64 x 64 float32 image, filled in C++: only its block name, dtype and shape cross the pipe.
    appose::NDArray image(appose::DType::float32, appose::Shape{64, 64});
    auto pixels = image.span<float>();
    for (std::size_t i = 0; i < pixels.size(); ++i)
      pixels[i] = static_cast<float>(i % 64);

    const char* script = R"(
import numpy as np
from appose import NDArray
pixels = image.ndarray()
rows = pixels.shape[0]
for row in range(0, rows, 16):
    task.update(message=f"rows {row}..{row + 15}", current=row + 16, maximum=rows)
mask = NDArray("uint8", list(pixels.shape))
mask.ndarray()[:] = pixels > gamma
task.outputs["mask"] = mask
float(pixels.mean())
)";
    appose::Task task = python.task(script, {{"image", image}, {"gamma", 31.5}});
    task.listen([](const appose::TaskEvent& e) {
      if (e.response_type == appose::ResponseType::UPDATE) {
        std::printf("progress %lld/%lld: %s\n", static_cast<long long>(e.current.value_or(0)),
                    static_cast<long long>(e.maximum.value_or(0)), e.message.value_or("").c_str());
      }
    });
    task.wait_for();

    auto mask = task.outputs().at("mask").get<appose::NDArray>();
    std::size_t on = 0;
    for (std::uint8_t m : mask.span<std::uint8_t>())
      on += m;
    std::printf("mean computed by Python: %g\n", task.result().get<double>());
    std::printf("mask made by Python, read in C++: %zu of %zu pixels set\n", on,
                static_cast<std::size_t>(mask.size()));
    python.close();
    std::printf("worker exited with code %d\n", python.wait_for());
    return 0;
  } catch (const appose::TaskException& e) {
    std::fprintf(stderr, "the task did not complete: %s\n", e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
  }
  return 1;
}
