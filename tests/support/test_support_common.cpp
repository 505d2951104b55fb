// The test helpers that work on every system (Linux and, under Wine, Windows): the peers'
// locations, temporary directories and variables. The POSIX-only ones (running processes,
// waiting for pids) are in test_support.cpp.

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>

#include "support/test_support.hpp"

namespace appose::test {

namespace {

// Sets or (nullopt) removes a variable of this process; _putenv_s with an empty value removes
// it on Windows.
void set_env(const std::string& name, const std::optional<std::string>& value) {
#ifdef _WIN32
  ::_putenv_s(name.c_str(), value ? value->c_str() : "");
#else
  if (value) {
    ::setenv(name.c_str(), value->c_str(), 1);
  } else {
    ::unsetenv(name.c_str());
  }
#endif
}

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}
}  // namespace

std::optional<std::string> peer_python() {
  std::string p = env_or_empty("APPOSE_PEER_PYTHON");
  std::error_code ec;
  if (p.empty() || !std::filesystem::exists(p, ec)) return std::nullopt;
  return p;
}

std::optional<std::vector<std::string>> peer_java_classpath() {
  std::string dir = env_or_empty("APPOSE_PEER_JAVA_LIB");
  if (dir.empty()) return std::nullopt;
  std::error_code ec;
  std::vector<std::string> jars;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".jar") jars.push_back(entry.path().string());
  }
  if (jars.empty()) return std::nullopt;
  std::sort(jars.begin(), jars.end());
  return jars;
}

appose::Environment peer_env() {
  auto py = peer_python();
  if (!py) throw std::runtime_error("appose-python peer missing; run scripts/peers.sh");
  return appose::Environment(".", {std::filesystem::path(*py).parent_path().string()});
}

void start_and_await_launch(appose::Task& task) {
  auto launched = std::make_shared<Signal>();
  task.listen([launched](const appose::TaskEvent& e) {
    if (e.response_type == appose::ResponseType::LAUNCH) launched->set();
  });
  task.start();
  ASSERT_TRUE(launched->wait()) << "no LAUNCH from the worker";
}

bool peers_required() {
  return env_or_empty("APPOSE_REQUIRE_PEERS") == "1";
}

std::string conformance_dir() {
  std::string d = env_or_empty("APPOSE_CONFORMANCE_DIR");
  if (d.empty()) throw std::runtime_error("APPOSE_CONFORMANCE_DIR is not set (run through ctest)");
  return d;
}

TempDir::TempDir(std::string_view prefix) {
  // create_directory() tells whether it made the directory: a name another process took is
  // simply tried again with other random digits (mkdtemp's loop, portable).
  std::random_device random;
  const std::filesystem::path tmp = std::filesystem::temp_directory_path();
  for (int attempt = 0; attempt < 100; ++attempt) {
    const std::filesystem::path candidate =
        tmp / fmt::format("{}-{:08x}", prefix, static_cast<std::uint32_t>(random()));
    std::error_code ec;
    if (std::filesystem::create_directory(candidate, ec)) {
      path = std::filesystem::canonical(candidate);
      return;
    }
    if (ec) throw std::runtime_error("cannot create " + candidate.string() + ": " + ec.message());
  }
  throw std::runtime_error("cannot create a temporary directory under " + tmp.string());
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

ScopedEnv::ScopedEnv(std::string name, const std::optional<std::string>& value)
    : name_(std::move(name)) {
  if (const char* old = std::getenv(name_.c_str())) old_ = old;
  set_env(name_, value);
}

ScopedEnv::~ScopedEnv() {
  set_env(name_, old_);
}

void write_executable(const std::filesystem::path& path, std::string_view content) {
  std::filesystem::create_directories(path.parent_path());
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    if (!out) throw std::runtime_error("cannot write " + path.string());
  }
  std::filesystem::permissions(path, std::filesystem::perms::owner_all);
}

std::optional<std::filesystem::path> peer_uv() {
  auto py = peer_python();
  if (!py) return std::nullopt;
  std::filesystem::path uv = std::filesystem::path(*py).parent_path() / "uv";
  if (!std::filesystem::exists(uv)) return std::nullopt;
  return uv;
}

}  // namespace appose::test
