// One call into each dependency, so that each one is compiled against and linked.
#include <archive.h>
#include <curl/curl.h>

#include <fmt/format.h>
#include <toml++/toml.h>
#include <yaml-cpp/yaml.h>
#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

int main(int argc, char** argv) {
  CLI::App app{"deps_smoke"};
  std::string name = "macOS";
  app.add_option("--name", name);
  CLI11_PARSE(app, argc, argv);

  const auto json = nlohmann::json::parse(R"({"n": 2})");
  const auto toml = toml::parse("n = 3");
  const YAML::Node yaml = YAML::Load("n: 4");
  int n = json["n"].get<int>() + static_cast<int>(toml["n"].value_or(0)) + yaml["n"].as<int>();
  std::thread t([&n] { n += 1; });
  t.join();
  // The newest libcurl function src/ uses (7.66): the stub must have it, or this fails to link.
  if (argc > 99) n += curl_multi_poll(nullptr, nullptr, 0, 0, nullptr);

  std::puts(fmt::format("{}: n={} curl={} libarchive={}", name, n, curl_version(),
                        archive_version_string())
                .c_str());
  return n == 10 ? 0 : 1;
}
