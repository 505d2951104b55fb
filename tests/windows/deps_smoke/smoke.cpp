// Calls one function of each dependency of appose-cpp, statically linked for Windows; run
// under Wine by ctest. Prints what each returned; exits non-zero on a wrong answer.
#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <toml++/toml.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
  if (!ok) ++failures;
}

// Writes a one-entry tar through a compression filter into memory, reads it back.
bool tar_round_trip(int filter) {
  std::vector<char> buf(1 << 16);
  size_t used = 0;
  const std::string body = "hello from appose";
  archive* w = archive_write_new();
  archive_write_set_format_pax_restricted(w);
  archive_write_add_filter(w, filter);
  if (archive_write_open_memory(w, buf.data(), buf.size(), &used) != ARCHIVE_OK) return false;
  archive_entry* e = archive_entry_new();
  archive_entry_set_pathname(e, "env/hello.txt");
  archive_entry_set_size(e, static_cast<la_int64_t>(body.size()));
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, 0644);
  archive_write_header(w, e);
  archive_write_data(w, body.data(), body.size());
  archive_entry_free(e);
  archive_write_close(w);
  archive_write_free(w);

  archive* r = archive_read_new();
  archive_read_support_filter_all(r);
  archive_read_support_format_all(r);
  bool ok = archive_read_open_memory(r, buf.data(), used) == ARCHIVE_OK;
  archive_entry* got = nullptr;
  ok = ok && archive_read_next_header(r, &got) == ARCHIVE_OK &&
       std::string(archive_entry_pathname(got)) == "env/hello.txt";
  std::array<char, 64> data{};
  ok = ok &&
       archive_read_data(r, data.data(), data.size()) == static_cast<la_ssize_t>(body.size()) &&
       std::string(data.data()) == body;
  ok = ok && archive_filter_code(r, 0) == filter;
  archive_read_free(r);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  // curl
  const std::string cv = curl_version();
  check(cv.rfind("libcurl/7.88", 0) == 0 && cv.find("Schannel") != std::string::npos,
        "curl_version: " + cv);

  // libarchive, and its three codecs
  const std::string av = archive_version_string();
  check(av.rfind("libarchive 3.6", 0) == 0, "archive_version_string: " + av);
  check(tar_round_trip(ARCHIVE_FILTER_GZIP), "libarchive tar.gz round trip (zlib)");
  check(tar_round_trip(ARCHIVE_FILTER_BZIP2), "libarchive tar.bz2 round trip (bzip2)");
  check(tar_round_trip(ARCHIVE_FILTER_XZ), "libarchive tar.xz round trip (liblzma)");
  check(std::string(archive_zlib_version()).size() > 0 &&
            std::string(archive_liblzma_version()).size() > 0 &&
            std::string(archive_bzlib_version()).size() > 0,
        fmt::format("libarchive codecs: zlib {}, liblzma {}, bzlib {}", archive_zlib_version(),
                    archive_liblzma_version(), archive_bzlib_version()));

  // yaml-cpp
  YAML::Node env = YAML::Load("name: appose\ndependencies: [python=3.11, numpy]\n");
  check(env["name"].as<std::string>() == "appose" && env["dependencies"].size() == 2,
        "YAML::Load: name=" + env["name"].as<std::string>() +
            fmt::format(", {} dependencies", env["dependencies"].size()));

  // fmt
  const std::string f = fmt::format("{:>6.2f}|{:#x}|{}", 3.14159, 255, "fmt");
  check(f == "  3.14|0xff|fmt", "fmt::format: " + f);

  // toml++
  toml::table t = toml::parse("[project]\nname = \"appose\"\nchannels = [\"conda-forge\"]\n");
  check(t["project"]["name"].value_or(std::string{}) == "appose",
        "toml::parse: project.name=" + t["project"]["name"].value_or(std::string{}));

  // nlohmann/json
  auto j = nlohmann::ordered_json::parse(R"({"task":"x","inputs":{"a":[1,2.5,"s"]}})");
  check(j["inputs"]["a"][1].get<double>() == 2.5, "nlohmann::json::parse: " + j.dump());

  // CLI11
  CLI::App app{"smoke"};
  int n = 0;
  app.add_option("-n", n);
  std::vector<const char*> args{"smoke", "-n", "7"};
  app.parse(static_cast<int>(args.size()), const_cast<char**>(args.data()));
  check(n == 7, fmt::format("CLI11 parse: n={}", n));

  // posix threads (winpthreads, linked statically)
  int from_thread = 0;
  std::thread th([&] { from_thread = 42; });
  th.join();
  check(from_thread == 42, "std::thread");

  (void)argc;
  (void)argv;
  std::printf("%s\n", failures == 0 ? "deps_smoke: all ok" : "deps_smoke: FAILED");
  return failures == 0 ? 0 : 1;
}
