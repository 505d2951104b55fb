// Builds an environment from a configuration file (pixi.toml, pyproject.toml, environment.yml or
// requirements.txt: the scheme picks the builder), runs one task in it, then lists every
// environment under the root with its size and state.
//
// Usage: build_from_file <config file> [name or directory]
// Example: echo 'appose==0.12.0' > req.txt && APPOSE_UV=.peers/venv/bin/uv build_from_file req.txt
// demo-req

#include <appose/appose.hpp>

#include <cstdio>
#include <exception>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <config file> [name or directory]\n", argv[0]);
    return 2;
  }
  try {
    appose::DynamicBuilder builder = appose::file(argv[1]);
    builder.subscribe_progress([](std::string_view title, std::int64_t, std::int64_t) {
      std::printf("[%.*s]\n", static_cast<int>(title.size()), title.data());
    });
    builder.log_debug();  // the tool's own output, on stderr
    std::printf("%s builder\n", builder.env_type().c_str());
    appose::Environment env = argc > 2 ? builder.build(argv[2]) : builder.build();
    std::printf("environment (%s) in %s\n", env.type().c_str(), env.base().c_str());

    appose::Service python = env.python();
    appose::Task task = python.task("import sys\nsys.executable").wait_for();
    std::printf("the worker runs %s\n", task.result().get<std::string>().c_str());
    python.close();

    for (const appose::EnvironmentInfo& info : appose::list_environments()) {
      std::printf("%-24s %-6s %8.1f MiB  %s\n", info.name.c_str(), info.type.c_str(),
                  static_cast<double>(info.size_bytes) / (1024.0 * 1024.0),
                  appose::to_string(info.state));
    }
    return 0;
  } catch (const appose::BuildException& e) {
    std::fprintf(stderr, "build failed: %s\n", e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
  }
  return 1;
}
