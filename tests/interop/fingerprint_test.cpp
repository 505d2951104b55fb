// appose.json ("fingerprint") against the real appose-python 0.12: for each builder
// configuration below, the text appose-cpp's Builder::fingerprint() returns must be
// byte-identical to the state string appose-python's builder writes, so that either can find
// the other's environments up to date. One Python run computes every case.
//
// appose-python fills in two things only inside build(), which these cases never run:
//  - a typed builder with content and no scheme detects the scheme from the content before it
//    computes the state (appose-cpp's fingerprint() does the same up front);
//  - a dynamic builder (appose.content / appose.file) makes its concrete delegate and copies
//    its configuration into it.
// The Python side does both by hand, then calls the builder's private _build_state_string().

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <appose/builder.hpp>
#include <appose/error.hpp>
#include <appose/value.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/json.hpp"
#include "support/test_support.hpp"

namespace appose {
namespace {

namespace fs = std::filesystem;
namespace codec = detail::codec;

// ---------------------------------------------------------------------------------------------
// The cases: one description, applied the same way to an appose-cpp builder and (as JSON) to
// an appose-python one.

using Calls = std::vector<std::vector<std::string>>;  // one inner list per call
using EnvCall = std::vector<std::pair<std::string, std::string>>;

struct Case {
  std::string label;
  /// "pixi", "uv", "mamba" (typed builders), "content" or "file" (dynamic builders).
  std::string kind;
  /// Typed builders: pass the file to the factory (appose::pixi(path)) rather than file().
  bool source_ctor = false;
  std::optional<std::string> content;
  /// Bytes written to a temporary file that the builder reads with file().
  std::optional<std::string> file_bytes;
  std::optional<std::string> scheme;
  /// Dynamic builders: builder("mamba") etc.
  std::optional<std::string> builder;
  Calls channels;
  Calls flags;
  /// Each call in the order given (not sorted): the sorting is the builders' job.
  std::vector<EnvCall> env;
  Calls conda;
  Calls pypi;
  std::optional<std::string> python;
  Calls include;
  std::optional<std::string> name;
  /// Sets base(<tmp>/env-<label>); it must not change the fingerprint.
  bool base = false;
  /// Both sides must refuse the configuration (no fingerprint) rather than agree on one.
  bool refused = false;
};

const char* const kPixiToml =
    "[workspace]\n"
    "name = \"fp-pixi\"\n"
    "channels = [\"conda-forge\"]\n"
    "platforms = [\"linux-64\", \"osx-arm64\"]\n"
    "\n"
    "[dependencies]\n"
    "python = \">=3.10\"\n"
    "appose = \"*\"\n"
    "\n"
    "[pypi-dependencies]\n"
    "cowsay = \"==6.1\"\n";

const char* const kPixiPyproject =
    "[project]\n"
    "name = \"fp-pyproject\"\n"
    "version = \"0.1.0\"\n"
    "requires-python = \">=3.10\"\n"
    "dependencies = [\"appose\"]\n"
    "\n"
    "[tool.pixi.workspace]\n"
    "channels = [\"conda-forge\"]\n"
    "platforms = [\"linux-64\"]\n"
    "\n"
    "[tool.pixi.dependencies]\n"
    "numpy = \"*\"\n";

const char* const kUvPyproject =
    "[project]\n"
    "name = \"fp-uv-pyproject\"\n"
    "version = \"0.1.0\"\n"
    "requires-python = \">=3.10\"\n"
    "dependencies = [\n"
    "    \"appose\",\n"
    "    \"numpy>=1.26\",\n"
    "]\n";

const char* const kEnvironmentYml =
    "name: fp-env\n"
    "channels:\n"
    "  - conda-forge\n"
    "dependencies:\n"
    "  - python=3.11\n"
    "  - pip\n"
    "  - pip:\n"
    "    - appose\n";

// Detection needs a package name first: a leading comment makes it undetectable (both sides).
const char* const kRequirements =
    "appose\n"
    "# the worker's needs\n"
    "numpy>=1.26\n"
    "requests==2.31.0  # pinned\n";

// Each case names only the fields it sets; GCC would warn about every field left to its default.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
std::vector<Case> make_cases() {
  std::vector<Case> cases;

  // Typed builders, programmatic.
  cases.push_back({.label = "PixiProgrammatic",
                   .kind = "pixi",
                   .channels = {{"conda-forge", "bioconda"}},
                   .flags = {{"-v", "--color=always"}},
                   .env = {{{"PIXI_HOME", "/tmp/pixi home"}, {"APPOSE_DEBUG", "1"}}},
                   .conda = {{"python=3.11", "appose", "numpy>=1.26,<2"}},
                   .pypi = {{"cowsay==6.1"}}});
  cases.push_back({.label = "PixiProgrammaticRepeatedCalls",
                   .kind = "pixi",
                   .channels = {{"conda-forge"}, {"https://prefix.dev/my-channel"}},
                   .flags = {{"-v"}, {"--frozen"}},
                   .conda = {{"python"}, {"appose", "conda-forge::scipy"}},
                   .pypi = {{"a"}, {"b[extra]>=1; python_version>'3.8'"}}});
  cases.push_back({.label = "PixiNothingSet", .kind = "pixi"});
  cases.push_back({.label = "PixiEmptyLists",
                   .kind = "pixi",
                   .channels = {{}},
                   .flags = {{}},
                   .env = {{}},
                   .conda = {{}},
                   .pypi = {{}}});
  cases.push_back(
      {.label = "UvNoPythonVersion", .kind = "uv", .include = {{"numpy", "requests==2.31.0"}}});
  cases.push_back({.label = "UvPython311IncludesAppose",
                   .kind = "uv",
                   .python = "3.11",
                   .include = {{"appose"}, {"numpy"}}});
  cases.push_back(
      {.label = "UvEmptyLists", .kind = "uv", .flags = {{}}, .env = {{}}, .include = {{}}});
  cases.push_back({.label = "MambaNothingSet", .kind = "mamba"});

  // Typed builders from content.
  cases.push_back({.label = "PixiFromPixiToml", .kind = "pixi", .content = kPixiToml});
  cases.push_back(
      {.label = "PixiFromPyprojectToml", .kind = "pixi", .content = kPixiPyproject, .base = true});
  cases.push_back({.label = "PixiFromEnvironmentYml",
                   .kind = "pixi",
                   .content = kEnvironmentYml,
                   .channels = {{"bioconda"}},
                   .name = "fp-renamed"});
  cases.push_back({.label = "MambaFromEnvironmentYml",
                   .kind = "mamba",
                   .content = kEnvironmentYml,
                   .flags = {{"-vv"}}});
  cases.push_back(
      {.label = "UvFromRequirementsTxt", .kind = "uv", .content = kRequirements, .python = "3.12"});
  cases.push_back({.label = "UvFromPyprojectToml", .kind = "uv", .content = kUvPyproject});

  // Dynamic builders: routed by the scheme (or by builder()).
  cases.push_back({.label = "ContentRequirementsTxtRoutesToUv",
                   .kind = "content",
                   .content = kRequirements,
                   .name = "fp-reqs"});
  cases.push_back({.label = "ContentPixiToml",
                   .kind = "content",
                   .content = kPixiToml,
                   .flags = {{"--quiet"}}});
  cases.push_back({.label = "ContentPyprojectToml",
                   .kind = "content",
                   .content = kPixiPyproject,
                   .base = true});
  cases.push_back({.label = "ContentEnvironmentYmlRoutesToPixi",
                   .kind = "content",
                   .content = kEnvironmentYml,
                   .channels = {{"conda-forge"}}});
  cases.push_back({.label = "ContentEnvironmentYmlBuilderMamba",
                   .kind = "content",
                   .content = kEnvironmentYml,
                   .builder = "mamba"});
  cases.push_back({.label = "ContentRequirementsBuilderPixiCase",
                   .kind = "content",
                   .content = "numpy\n",
                   .builder = "Pixi"});

  // Explicit schemes: content detection would say something else, or nothing at all.
  cases.push_back({.label = "ContentExplicitSchemePixiToml",
                   .kind = "content",
                   .content = "[workspace]\nname = \"undetectable\"\n",
                   .scheme = "pixi.toml"});
  cases.push_back({.label = "ContentCommentFirstRefusedByBoth",
                   .kind = "content",
                   .content = "# a comment first\nnumpy\n",
                   .refused = true});
  cases.push_back({.label = "PixiExplicitSchemePixiToml",
                   .kind = "pixi",
                   .content = "[workspace]\nname = \"undetectable\"\n",
                   .scheme = "pixi.toml"});
  cases.push_back({.label = "UvExplicitSchemeRequirementsTxt",
                   .kind = "uv",
                   .content = "name: looks-like-yaml\n",
                   .scheme = "requirements.txt"});

  // Text the JSON writer must escape exactly as json.dumps(ensure_ascii=True) does.
  cases.push_back({.label = "NonAsciiContent",
                   .kind = "pixi",
                   .content = "# caf\u00e9 \u65e5\u672c \U0001F600 \U0001F9CA \u2028\u00ff\u0100\n"
                              "[workspace]\n"
                              "name = \"\u00e9t\u00e9-\u65e5\u672c\"\n"
                              "[dependencies]\n"
                              "python = \"*\"\n"});
  cases.push_back(
      {.label = "EscapedCharactersInContent",
       .kind = "uv",
       .content = std::string("appose  # a/b \"quoted\" back\\slash\ttab del\x7f bell\x07 "
                              "bs\x08 ff\x0c vt\x0b cr\r esc\x1b us\x1f soh\x01 nul") +
                  std::string(1, '\0') + "after \u0080\u009f\u00a0 </script>\n"});
  cases.push_back({.label = "UnicodeWhitespaceBeforeRequirements",
                   .kind = "content",
                   .content = "\u00a0\u3000\u2003numpy==1.26\n"});
  cases.push_back({.label = "EscapedCharactersInListsAndFlags",
                   .kind = "pixi",
                   .channels = {{"https://example.com/a/b", "ch\u00e9"}},
                   .flags = {{"--opt=\"x y\"", "back\\slash", "tab\there", "\U0001F600"}},
                   .conda = {{"appose", "pkg\x7f", "\u65e5\u672c"}},
                   .pypi = {{"", "line\nbreak"}}});

  // Environment variables: given unsorted (and over two calls, the second overriding), with
  // non-ASCII keys and values; both sides sort by code point.
  cases.push_back({.label = "EnvVarsUnsortedNonAscii",
                   .kind = "pixi",
                   .env = {{{"ZED", "last"},
                            {"alpha", "lower"},
                            {"\u00c9mile", "e-acute"},
                            {"_under", "x"},
                            {"\u65e5\u672c", "\U0001F600"},
                            {"Ab", "1"},
                            {"AB", "2"},
                            {"a", "tab\t\"q\" back\\ /slash"},
                            {"\U0001F9CA", "ice"},
                            {"\u00ff", "y-umlaut"}},
                           {{"ZED", "overridden"}, {"MIDDLE", ""}, {"0digit", "0"}}},
                   .conda = {{"appose"}}});
  cases.push_back({.label = "EnvVarsOnUvAndDynamic",
                   .kind = "content",
                   .content = kRequirements,
                   .env = {{{"b", "2"}, {"a", "1"}}, {{"C", "3"}}}});

  // Files: CRLF (and a lone CR) read as LF on both sides; a BOM kept as content.
  cases.push_back({.label = "FileCrlfEnvironmentYml",
                   .kind = "file",
                   .file_bytes = "name: fp-crlf\r\nchannels:\r\n  - conda-forge\r\n"
                                 "dependencies:\r\n  - python=3.11\r\n  - appose\r\r\n"
                                 "# lone CR follows\rend: \u00e9\r\n"});
  cases.push_back({.label = "FileCrlfRequirementsUv",
                   .kind = "uv",
                   .file_bytes = "appose\r\nnumpy>=1.26\r\n\r\n# \u65e5\u672c\r\n"});
  cases.push_back({.label = "FileCrlfRequirementsDynamic",
                   .kind = "file",
                   .file_bytes = "appose\r\nnumpy>=1.26\r\n"});
  cases.push_back({.label = "FileViaFactoryMamba",
                   .kind = "mamba",
                   .source_ctor = true,
                   .file_bytes = "name: fp-factory\r\ndependencies:\r\n  - appose\r\n"});
  cases.push_back({.label = "FileWithBomExplicitScheme",
                   .kind = "uv",
                   .file_bytes = "\xef\xbb\xbf"
                                 "appose\r\n",
                   .scheme = "requirements.txt"});
  return cases;
}
#pragma GCC diagnostic pop

const std::vector<Case>& cases() {
  static const std::vector<Case> all = make_cases();
  return all;
}

// ---------------------------------------------------------------------------------------------
// A temporary directory, removed at exit.

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    for (int attempt = 0;; ++attempt) {
      path_ =
          fs::temp_directory_path() / fmt::format("appose-fingerprint-{}-{:08x}", ::getpid(), rd());
      if (fs::create_directory(path_)) break;
      if (attempt == 100) throw std::runtime_error("cannot create a temporary directory");
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  [[nodiscard]] const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

const fs::path& shared_tmp() {
  static const TempDir dir;
  return dir.path();
}

fs::path file_of(const Case& c) {
  return shared_tmp() / (c.label + ".txt");
}
fs::path base_of(const Case& c) {
  return shared_tmp() / ("env-" + c.label);
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

// ---------------------------------------------------------------------------------------------
// appose-cpp's side.

template <class B>
B& apply(B& b, const Case& c) {
  if (c.file_bytes && !c.source_ctor && c.kind != "file") b.file(file_of(c));
  if (c.content && c.kind != "content") b.content(*c.content);
  if (c.scheme) b.scheme(*c.scheme);
  if constexpr (std::is_same_v<B, DynamicBuilder>) {
    if (c.builder) b.builder(*c.builder);
  }
  for (const auto& call : c.channels)
    b.channels(call);
  for (const auto& call : c.flags)
    b.flags(call);
  for (const auto& call : c.env)
    b.env(std::map<std::string, std::string>(call.begin(), call.end()));
  if constexpr (std::is_same_v<B, PixiBuilder>) {
    for (const auto& call : c.conda)
      b.conda(call);
    for (const auto& call : c.pypi)
      b.pypi(call);
  }
  if constexpr (std::is_same_v<B, UvBuilder>) {
    if (c.python) b.python(*c.python);
    for (const auto& call : c.include)
      b.include(call);
  }
  if (c.name) b.name(*c.name);
  if (c.base) b.base(base_of(c));
  return b;
}

std::string cpp_fingerprint(const Case& c) {
  const bool ctor = c.source_ctor && c.file_bytes;
  if (c.kind == "pixi") {
    PixiBuilder b = ctor ? appose::pixi(file_of(c)) : appose::pixi();
    return apply(b, c).fingerprint();
  }
  if (c.kind == "uv") {
    UvBuilder b = ctor ? appose::uv(file_of(c)) : appose::uv();
    return apply(b, c).fingerprint();
  }
  if (c.kind == "mamba") {
    MambaBuilder b = ctor ? appose::mamba(file_of(c)) : appose::mamba();
    return apply(b, c).fingerprint();
  }
  if (c.kind == "content") {
    DynamicBuilder b = appose::content(c.content.value());
    return apply(b, c).fingerprint();
  }
  DynamicBuilder b = appose::file(file_of(c));
  return apply(b, c).fingerprint();
}

// ---------------------------------------------------------------------------------------------
// appose-python's side: the cases as JSON on stdin, a JSON list back (a string per case, or
// {"error": ...} when Python refused it).

constexpr const char* kScript = R"PY(
import json, sys
import appose
from appose.builder import DynamicBuilder
from appose.scheme import from_content

FACTORIES = {"pixi": appose.pixi, "uv": appose.uv, "mamba": appose.mamba}

def state(c):
    kind = c["kind"]
    path = c.get("file")
    if kind == "content":
        b = appose.content(c["content"])
    elif kind == "file":
        b = appose.file(path)
    elif c["source_ctor"] and path is not None:
        b = FACTORIES[kind](path)
    else:
        b = FACTORIES[kind]()
        if path is not None:
            b.file(path)
        if c.get("content") is not None:
            b.content(c["content"])
    if c.get("scheme") is not None:
        b.scheme(c["scheme"])
    if c.get("builder") is not None:
        b.builder(c["builder"])
    for call in c["channels"]:
        b.channels(*call)
    for call in c["flags"]:
        b.flags(*call)
    for call in c["env"]:
        b.env(**dict(call))
    for call in c["conda"]:
        b.conda(*call)
    for call in c["pypi"]:
        b.pypi(*call)
    if c.get("python") is not None:
        b.python(c["python"])
    for call in c["include"]:
        b.include(*call)
    if c.get("name") is not None:
        b.name(c["name"])
    if c.get("base") is not None:
        b.base(c["base"])
    if isinstance(b, DynamicBuilder):
        # What DynamicBuilder.build() does before delegating.
        delegate = b._create_builder()
        b._copy_config_to_delegate(delegate)
        b = delegate
    if b._content is not None and b._scheme is None:
        # What the typed builders' build() do before computing the state.
        b._scheme = from_content(b._content)
    return b._build_state_string()

def attempt(c):
    try:
        return state(c)
    except Exception as e:
        return {"error": f"{type(e).__name__}: {e}"}

cases = json.loads(sys.stdin.buffer.read().decode("utf-8"))
print(json.dumps([attempt(c) for c in cases]))
)PY";

Value strings(const std::vector<std::string>& items) {
  Array a;
  for (const auto& s : items)
    a.emplace_back(s);
  return Value(std::move(a));
}

Value calls(const Calls& cs) {
  Array a;
  for (const auto& call : cs)
    a.push_back(strings(call));
  return Value(std::move(a));
}

Value optional(const std::optional<std::string>& s) {
  return s ? Value(*s) : Value(nullptr);
}

Value to_json(const Case& c) {
  Args o;
  o["kind"] = c.kind;
  o["source_ctor"] = c.source_ctor;
  o["content"] = optional(c.content);
  o["file"] = c.file_bytes ? Value(file_of(c).string()) : Value(nullptr);
  o["scheme"] = optional(c.scheme);
  o["builder"] = optional(c.builder);
  o["channels"] = calls(c.channels);
  o["flags"] = calls(c.flags);
  Array env;
  for (const auto& call : c.env) {
    Array pairs;  // a list of pairs keeps the order given, unsorted
    for (const auto& [k, v] : call)
      pairs.push_back(Value(Array{Value(k), Value(v)}));
    env.emplace_back(std::move(pairs));
  }
  o["env"] = Value(std::move(env));
  o["conda"] = calls(c.conda);
  o["pypi"] = calls(c.pypi);
  o["python"] = optional(c.python);
  o["include"] = calls(c.include);
  o["name"] = optional(c.name);
  o["base"] = c.base ? Value(base_of(c).string()) : Value(nullptr);
  return Value(std::move(o));
}

struct PythonRun {
  std::vector<Value> results;  // a string, or {"error": ...}
  std::string failure;         // set when the run itself failed
};

/// Writes the case files and runs Python once for every case.
const PythonRun& python_run() {
  static const PythonRun run = [] {
    PythonRun r;
    Array input;
    for (const Case& c : cases()) {
      if (c.file_bytes) write_bytes(file_of(c), *c.file_bytes);
      input.push_back(to_json(c));
    }
    test::ProcessResult p = test::run_python(kScript, {}, codec::write(Value(std::move(input))));
    if (p.exit_code != 0) {
      r.failure = fmt::format("python exited with {}:\n{}{}", p.exit_code, p.out, p.err);
      return r;
    }
    try {
      Value out = codec::parse(p.out);
      for (const Value& v : out.as_array())
        r.results.push_back(v);
    } catch (const std::exception& e) {
      r.failure = fmt::format("cannot read Python's output ({}):\n{}", e.what(), p.out);
      return r;
    }
    if (r.results.size() != cases().size()) {
      r.failure =
          fmt::format("Python returned {} results for {} cases", r.results.size(), cases().size());
    }
    return r;
  }();
  return run;
}

// ---------------------------------------------------------------------------------------------
// A readable account of how two fingerprints differ: the first differing byte, then field by
// field.

std::string around(const std::string& s, std::size_t at) {
  const std::size_t from = at > 50 ? at - 50 : 0;
  return s.substr(from, 100);
}

std::string explain(const std::string& cpp, const std::string& py) {
  const auto [ci, pi] = std::mismatch(cpp.begin(), cpp.end(), py.begin(), py.end());
  const auto at = static_cast<std::size_t>(ci - cpp.begin());
  std::string out = fmt::format(
      "fingerprints differ at byte {} (C++ {} bytes, Python {} bytes)\n"
      "  C++:    ...{}...\n  Python: ...{}...\n",
      at, cpp.size(), py.size(), around(cpp, at), around(py, at));
  try {
    const Value c = codec::parse(cpp);
    const Value p = codec::parse(py);
    std::vector<std::string> c_keys;
    std::vector<std::string> p_keys;
    for (const auto& [k, v] : c.as_object())
      c_keys.push_back(k);
    for (const auto& [k, v] : p.as_object())
      p_keys.push_back(k);
    if (c_keys != p_keys) {
      out += fmt::format("  keys: C++ [{}], Python [{}]\n", fmt::join(c_keys, ", "),
                         fmt::join(p_keys, ", "));
    }
    for (const auto& k : p_keys) {
      const Value* cv = c.as_object().find(k);
      const std::string pw = codec::write(p.as_object().at(k));
      const std::string cw = cv != nullptr ? codec::write(*cv) : std::string("(absent)");
      if (cw != pw) out += fmt::format("  field \"{}\": C++ {} / Python {}\n", k, cw, pw);
    }
  } catch (const std::exception& e) {
    out += fmt::format("  (cannot compare field by field: {})\n", e.what());
  }
  out += fmt::format("  C++ full:    {}\n  Python full: {}\n", cpp, py);
  return out;
}

// ---------------------------------------------------------------------------------------------

/// Compares one case; returns whether both sides agreed.
bool check_case(const Case& c, const Value& py) {
  if (c.refused) {
    EXPECT_TRUE(py.is_object()) << "appose-python accepted it: " << codec::write(py);
    EXPECT_THROW((void)cpp_fingerprint(c), BuildException);
    return py.is_object();
  }
  if (!py.is_string()) {
    ADD_FAILURE() << "appose-python refused the case: " << codec::write(py);
    return false;
  }
  std::string cpp;
  try {
    cpp = cpp_fingerprint(c);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "appose-cpp refused the case: " << e.what();
    return false;
  }
  const std::string expected = py.get<std::string>();
  EXPECT_TRUE(cpp == expected) << explain(cpp, expected);
  // Builders are values: asking again (a fresh builder, same configuration) says the same.
  EXPECT_EQ(cpp_fingerprint(c), cpp);
  return cpp == expected;
}

// One test for every case, so that one Python run serves them all (ctest runs each test in a
// process of its own). A failure names its case.
TEST(FingerprintInterop, MatchesApposePythonForEveryCase) {
  APPOSE_REQUIRE_PYTHON_PEER();
  const PythonRun& run = python_run();
  ASSERT_TRUE(run.failure.empty()) << run.failure;
  std::vector<std::string> mismatched;
  for (std::size_t i = 0; i < cases().size(); ++i) {
    const Case& c = cases()[i];
    SCOPED_TRACE("case " + c.label);
    if (!check_case(c, run.results.at(i))) mismatched.push_back(c.label);
  }
  EXPECT_TRUE(mismatched.empty()) << mismatched.size() << " of " << cases().size()
                                  << " cases differ: "
                                  << fmt::format("{}", fmt::join(mismatched, ", "));
}

TEST(FingerprintInteropCases, CoverWhatTheyClaim) {
  // Guards the table above against edits that would quietly drop coverage.
  EXPECT_GE(cases().size(), 15U);
  std::vector<std::string> labels;
  for (const Case& c : cases())
    labels.push_back(c.label);
  std::sort(labels.begin(), labels.end());
  EXPECT_EQ(std::adjacent_find(labels.begin(), labels.end()), labels.end()) << "repeated label";
}

// Without the peer: fingerprint() is a pure function of the configuration.

TEST(FingerprintNoBuild, FingerprintHasNoSideEffects) {
  const TempDir tmp;
  const fs::path base = tmp.path() / "x";
  auto uv = appose::uv().python("3.11").include({"numpy"}).base(base);
  auto pixi = appose::pixi().content(kPixiToml).env({{"K", "v"}}).base(base);
  auto dyn = appose::content(kRequirements).base(base);

  EXPECT_EQ(uv.fingerprint(),
            R"({"builder":"uv","content":null,"scheme":null,"channels":[],"flags":[],)"
            R"("envVars":{},"pythonVersion":"3.11","packages":["numpy"]})");
  EXPECT_EQ(dyn.fingerprint(),
            R"({"builder":"uv","content":"appose\n# the worker's needs\nnumpy>=1.26\n)"
            R"(requests==2.31.0  # pinned\n","scheme":"requirements.txt","channels":[],)"
            R"("flags":[],"envVars":{},"pythonVersion":null,"packages":[]})");
  const std::string p = pixi.fingerprint();
  EXPECT_NE(p.find(R"("builder":"pixi")"), std::string::npos) << p;
  EXPECT_NE(p.find(R"("scheme":"pixi.toml")"), std::string::npos) << p;

  EXPECT_FALSE(uv.is_up_to_date());
  EXPECT_FALSE(pixi.is_up_to_date());
  EXPECT_FALSE(dyn.is_up_to_date());
  EXPECT_EQ(uv.env_dir(), base);
  EXPECT_FALSE(fs::exists(base)) << "fingerprint()/is_up_to_date() created " << base;
  // Nothing else appeared next to it either.
  EXPECT_TRUE(fs::is_empty(tmp.path()));
}

TEST(FingerprintNoBuild, EscapesBeyondTheBmpAsSurrogatePairs) {
  const std::string f = appose::mamba().content("name: e\n# \u00e9\U0001F600\x7f\n").fingerprint();
  EXPECT_NE(f.find(R"(# \u00e9\ud83d\ude00\u007f\n)"), std::string::npos) << f;
}

}  // namespace
}  // namespace appose
