// Builders without running a tool: configuration checks, naming, routing, fingerprints,
// wrapping laid-out directories, and what remove() may and may not delete. Real builds are in
// tests/interop/uv_build_test.cpp.

#include <gtest/gtest.h>
#include <unistd.h>

#include <appose/builder.hpp>
#include <appose/catalog.hpp>
#include <appose/error.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

#include "envbuild/fingerprint.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;

namespace {

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

template <typename F>
std::string error_of(F&& f) {
  return appose::test::build_error_of(std::forward<F>(f));
}

/// Every test gets its own environments root through APPOSE_ENVS_DIR.
class BuilderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("appose-builder-test-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
    const char* old = std::getenv("APPOSE_ENVS_DIR");
    if (old != nullptr) old_ = old;
    ::setenv("APPOSE_ENVS_DIR", root_.c_str(), 1);
    // No test here may download a tool: a missing one fails at once against a closed port.
    for (const char* v : {"APPOSE_PIXI_URL", "APPOSE_UV_URL", "APPOSE_MICROMAMBA_URL"})
      ::setenv(v, "http://127.0.0.1:9/tool.tar.gz", 1);
  }
  void TearDown() override {
    if (old_) {
      ::setenv("APPOSE_ENVS_DIR", old_->c_str(), 1);
    } else {
      ::unsetenv("APPOSE_ENVS_DIR");
    }
    fs::remove_all(root_);
  }
  fs::path root_;
  std::optional<std::string> old_;
};

const char* kPixiToml =
    "[workspace]\nname = \"pixi-named\"\nchannels = [\"conda-forge\"]\nplatforms = "
    "[\"linux-64\"]\n\n[dependencies]\npython = \">=3.10\"\nappose = \"*\"\n";
const char* kEnvYml = "name: yml-named\nchannels:\n  - conda-forge\ndependencies:\n  - appose\n";
const char* kRequirements = "appose==0.12.0\nnumpy\n";
const char* kPyproject =
    "[project]\nname = \"proj-named\"\nversion = \"0.1.0\"\ndependencies = [\"appose\"]\n";

}  // namespace

TEST_F(BuilderTest, EnvsDirFollowsApposeEnvsDir) {
  EXPECT_EQ(appose::envs_dir(), root_);
  ::unsetenv("APPOSE_ENVS_DIR");
  const char* home = std::getenv("HOME");
  ASSERT_NE(home, nullptr);
  EXPECT_EQ(appose::envs_dir(), fs::path(home) / ".local" / "share" / "appose");
  ::setenv("APPOSE_ENVS_DIR", "", 1);  // empty counts as unset, as in the peers
  EXPECT_EQ(appose::envs_dir(), fs::path(home) / ".local" / "share" / "appose");
}

TEST_F(BuilderTest, NameComesFromContentLikeThePeers) {
  EXPECT_EQ(appose::content(kPixiToml).env_dir(), root_ / "pixi-named");
  EXPECT_EQ(appose::content(kEnvYml).env_dir(), root_ / "yml-named");
  EXPECT_EQ(appose::content(kPyproject).env_dir(), root_ / "proj-named");
  // The peers keep single quotes in a YAML name: the same text lands in the same directory.
  EXPECT_EQ(appose::content("name: 'quoted'\ndependencies:\n  - appose\n").env_dir(),
            root_ / "'quoted'");
  EXPECT_EQ(appose::content(kEnvYml).name("other").env_dir(), root_ / "other");
  EXPECT_EQ(appose::content(kEnvYml).base(root_ / "elsewhere").env_dir(), root_ / "elsewhere");
  // requirements.txt declares no name.
  EXPECT_NE(error_of([] { (void)appose::content(kRequirements).env_dir(); }).find("name()"),
            std::string::npos);
  EXPECT_NE(error_of([] { (void)appose::uv().include({"numpy"}).env_dir(); }).find("name"),
            std::string::npos);
}

TEST_F(BuilderTest, BuildArgumentIsANameOrAPath) {
  auto b = appose::uv().include({"numpy"});
  // No tool is run: the configuration error comes first. We only look at where it would go.
  b.name("by-name");
  EXPECT_EQ(b.env_dir(), root_ / "by-name");
  auto c = appose::uv().base(root_ / "sub" / "dir");
  EXPECT_EQ(c.env_dir(), root_ / "sub" / "dir");
  EXPECT_NE(error_of([] { (void)appose::uv().name("a/b").env_dir(); }).find("base()"),
            std::string::npos);
  EXPECT_NE(error_of([] { (void)appose::uv().name("..").env_dir(); }).find("not an environment"),
            std::string::npos);
}

TEST_F(BuilderTest, SchemesRouteToThePeersBuilders) {
  EXPECT_EQ(appose::content(kPixiToml).env_type(), "pixi");
  EXPECT_EQ(appose::content(kPyproject).env_type(), "pixi");
  EXPECT_EQ(appose::content(kEnvYml).env_type(), "pixi");
  EXPECT_EQ(appose::content(kRequirements).env_type(), "uv");
  EXPECT_EQ(appose::content(kEnvYml).builder("mamba").env_type(), "mamba");
  EXPECT_EQ(appose::content(kEnvYml).builder("UV").env_type(), "uv");
  EXPECT_EQ(appose::DynamicBuilder().env_type(), "dynamic");
  EXPECT_NE(error_of([] {
              (void)appose::content(kEnvYml).builder("conda").build();
            }).find("unknown builder"),
            std::string::npos);
}

TEST_F(BuilderTest, WrongSchemeForBuilderIsRefusedBeforeAnyTool) {
  // No pixi, uv or micromamba is needed to find these mistakes.
  ::setenv("PATH", "/nonexistent", 1);
  EXPECT_NE(error_of([] {
              (void)appose::uv().content(kEnvYml).name("x").build();
            }).find("cannot build from environment.yml"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              (void)appose::mamba().content(kRequirements).name("x").build();
            }).find("cannot build from requirements.txt"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              (void)appose::pixi().content(kRequirements).name("x").build();
            }).find("cannot build from requirements.txt"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              (void)appose::uv().channels({"x"}).include({"a"}).name("x").build();
            }).find("no channels()"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              (void)appose::mamba().channels({"x"}).content(kEnvYml).build();
            }).find("no channels()"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              (void)appose::uv().content(kRequirements).include({"a"}).name("x").build();
            }).find("package list"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(root_ / "x"));
}

TEST_F(BuilderTest, PixiProgrammaticBuildNeedsApposeBeforeTheNetwork) {
  ::setenv("PATH", "/nonexistent", 1);
  // Where pixi would be downloaded from: nothing listens there, so reaching the download step
  // fails at once (and proves the package check passed).

  EXPECT_NE(error_of([] {
              (void)appose::pixi().conda({"numpy"}).name("p").build();
            }).find("does not include appose"),
            std::string::npos);
  EXPECT_NE(error_of([] { (void)appose::pixi().name("p").build(); }).find("nothing to build"),
            std::string::npos);
  // Named like the peers compare names: a spec, a channel prefix, case and separators.
  for (const char* spec : {"appose", "appose>=0.12", "conda-forge::appose", "Appose==0.12.0"}) {
    std::string err = error_of([&] { (void)appose::pixi().conda({spec}).name("p").build(); });
    EXPECT_NE(err.find("pixi is not installed"), std::string::npos) << spec << ": " << err;
  }
  std::string err =
      error_of([] { (void)appose::pixi().conda({"python"}).pypi({"appose"}).name("p").build(); });
  EXPECT_NE(err.find("pixi is not installed"), std::string::npos) << err;
  EXPECT_NE(err.find("APPOSE_PIXI"), std::string::npos) << err;
  EXPECT_NE(err.find("127.0.0.1:9"), std::string::npos) << err;
}

TEST_F(BuilderTest, MalformedContentIsReportedWithItsPosition) {
  std::string err = error_of(
      [] { (void)appose::pixi().content("[dependencies]\npython = \n").name("bad").build(); });
  EXPECT_NE(err.find("line 2"), std::string::npos) << err;
  err = error_of([] {
    (void)appose::mamba().content("name: x\ndependencies:\n  - a\n - b\n").name("bad").build();
  });
  EXPECT_NE(err.find("line"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(root_ / "bad"));
}

TEST_F(BuilderTest, ForeignDirectoriesAreRefusedNamingBothTools) {
  fs::create_directories(root_ / "conda" / "conda-meta");
  fs::create_directories(root_ / "pixi" / ".pixi");
  write(root_ / "venv" / "pyvenv.cfg", "home = /usr/bin\n");
  EXPECT_NE(error_of([] {
              (void)appose::uv().include({"a"}).build("conda");
            }).find("cannot build with uv in"),
            std::string::npos);
  std::string err = error_of([] { (void)appose::uv().include({"a"}).build("pixi"); });
  EXPECT_NE(err.find("pixi manages it"), std::string::npos) << err;
  err = error_of([] { (void)appose::pixi().conda({"appose"}).build("venv"); });
  EXPECT_NE(err.find("uv/venv manages it"), std::string::npos) << err;
  err = error_of([] { (void)appose::mamba().content(kEnvYml).build("pixi"); });
  EXPECT_NE(err.find("pixi manages it"), std::string::npos) << err;
  err = error_of([] { (void)appose::pixi().conda({"appose"}).build("conda"); });
  EXPECT_NE(err.find("conda/micromamba manages it"), std::string::npos) << err;
}

TEST_F(BuilderTest, FingerprintHasNoSideEffectsAndTheFileIsReadAsText) {
  write(root_ / "req.txt", "numpy\r\nappose\r\n");
  auto b = appose::uv(root_ / "req.txt").base(root_ / "fp");
  const std::string fp = b.fingerprint();
  EXPECT_EQ(fp, R"({"builder":"uv","content":"numpy\nappose\n","scheme":"requirements.txt",)"
                R"("channels":[],"flags":[],"envVars":{},"pythonVersion":null,"packages":[]})");
  EXPECT_FALSE(fs::exists(root_ / "fp"));
  EXPECT_FALSE(b.is_up_to_date());
  write(root_ / "fp" / "appose.json", fp);
  EXPECT_TRUE(b.is_up_to_date());
  write(root_ / "fp" / "appose.json", fp + "\n");
  EXPECT_FALSE(b.is_up_to_date());
}

TEST_F(BuilderTest, FileThatIsNotUtf8OrMissingIsAClearError) {
  write(root_ / "latin1.yml", "name: caf\xe9\n");
  EXPECT_NE(error_of([&] { (void)appose::file(root_ / "latin1.yml"); }).find("not UTF-8"),
            std::string::npos);
  EXPECT_NE(error_of([&] { (void)appose::file(root_ / "missing.yml"); }).find("cannot read"),
            std::string::npos);
}

TEST_F(BuilderTest, RemoveDeletesOnlyWhatApposeBuilt) {
  write(root_ / "mine" / "appose.json", "{}");
  write(root_ / "mine" / "bin" / "python", "");
  appose::uv().include({"a"}).name("mine").remove();
  EXPECT_FALSE(fs::exists(root_ / "mine"));

  write(root_ / "theirs" / "important.txt", "keep me");
  std::string err = error_of([] { appose::uv().include({"a"}).name("theirs").remove(); });
  EXPECT_NE(err.find("refusing to delete"), std::string::npos) << err;
  EXPECT_EQ(slurp(root_ / "theirs" / "important.txt"), "keep me");

  // A host killed mid-build leaves the marker: the next build or remove may clean up.
  write(root_ / "half" / ".appose-building", "\n");
  write(root_ / "half" / "lib" / "x", "");
  appose::uv().include({"a"}).name("half").remove();
  EXPECT_FALSE(fs::exists(root_ / "half"));
  // Nothing there: nothing to do.
  EXPECT_NO_THROW(appose::uv().include({"a"}).name("never-built").remove());
}

TEST_F(BuilderTest, SystemEnvironmentIsNeverDeleted) {
  const fs::path cwd = fs::current_path();
  fs::current_path(root_);
  write(root_ / "precious.txt", "data");
  appose::Environment env = appose::system();
  EXPECT_EQ(env.type(), "system");
  EXPECT_NO_THROW(env.remove());
  EXPECT_TRUE(fs::exists(root_ / "precious.txt"));
  EXPECT_NE(error_of([&] { (void)env.rebuild(); }).find("did not build"), std::string::npos);
  fs::current_path(cwd);
}

TEST_F(BuilderTest, WrapDetectsEachLayoutAndWritesNothing) {
  write(root_ / "venv" / "pyvenv.cfg", "home = /usr/bin\n");
  fs::create_directories(root_ / "venv" / "bin");
  write(root_ / "proj" / "pyproject.toml", kPyproject);
  write(root_ / "proj" / ".venv" / "pyvenv.cfg", "home = /usr/bin\n");
  fs::create_directories(root_ / "conda" / "conda-meta");
  fs::create_directories(root_ / "pixi" / ".pixi" / "envs" / "default" / "bin");
  write(root_ / "pixi" / "pixi.toml", kPixiToml);
  fs::create_directories(root_ / "plain" / "bin");
  fs::create_directories(root_ / "bare");

  ::setenv("PATH", "/nonexistent", 1);  // no pixi or micromamba: bin paths only
  auto venv = appose::wrap(root_ / "venv");
  EXPECT_EQ(venv.type(), "uv");
  EXPECT_EQ(venv.bin_paths(), std::vector<std::string>{(root_ / "venv" / "bin").string()});
  EXPECT_TRUE(venv.launch_args().empty());
  // A `uv sync` project keeps its venv in .venv (the peers take it for a plain directory).
  auto proj = appose::wrap(root_ / "proj");
  EXPECT_EQ(proj.type(), "uv");
  EXPECT_EQ(proj.bin_paths(),
            std::vector<std::string>{(root_ / "proj" / ".venv" / "bin").string()});
  EXPECT_EQ(appose::wrap(root_ / "conda").type(), "mamba");
  auto pixi = appose::wrap(root_ / "pixi");
  EXPECT_EQ(pixi.type(), "pixi");
  EXPECT_EQ(
      pixi.bin_paths(),
      std::vector<std::string>{(root_ / "pixi" / ".pixi" / "envs" / "default" / "bin").string()});
  auto plain = appose::wrap(root_ / "plain");
  EXPECT_EQ(plain.type(), "custom");
  EXPECT_EQ(plain.bin_paths(), std::vector<std::string>{(root_ / "plain" / "bin").string()});
  EXPECT_TRUE(appose::wrap(root_ / "bare").bin_paths().empty());
  for (const char* d : {"venv", "proj", "conda", "pixi", "plain", "bare"}) {
    EXPECT_FALSE(fs::exists(root_ / d / "appose.json")) << d;
  }
  // Not built by Appose: never deleted, never rebuilt.
  for (const char* d : {"venv", "conda", "pixi", "plain"}) {
    auto env = appose::wrap(root_ / d);
    EXPECT_NE(error_of([&] { env.remove(); }).find("refusing to delete"), std::string::npos) << d;
    EXPECT_NE(error_of([&] { (void)env.rebuild(); }).find("did not build"), std::string::npos) << d;
    EXPECT_TRUE(fs::exists(root_ / d)) << d;
  }
  EXPECT_NE(error_of([&] { (void)appose::wrap(root_ / "missing"); }).find("does not exist"),
            std::string::npos);
  EXPECT_NE(
      error_of([&] { (void)appose::wrap(root_ / "venv" / "pyvenv.cfg"); }).find("not a directory"),
      std::string::npos);
}

TEST_F(BuilderTest, WrapOfAnApposeBuiltDirectoryKnowsHowItWasBuilt) {
  auto b = appose::uv().include({"numpy"}).env({{"OMP_NUM_THREADS", "1"}}).name("built");
  write(root_ / "built" / "pyvenv.cfg", "home = /usr/bin\n");
  write(root_ / "built" / "appose.json", b.fingerprint());
  auto env = appose::wrap(root_ / "built");
  EXPECT_EQ(env.type(), "uv");
  EXPECT_EQ(env.env_vars().at("OMP_NUM_THREADS"), "1");
  env.remove();
  EXPECT_FALSE(fs::exists(root_ / "built"));
}

TEST_F(BuilderTest, CatalogListsEnvironmentsWithTypeSizeAndState) {
  auto b = appose::uv().content(kRequirements).name("good");
  write(root_ / "good" / "pyvenv.cfg", "home = /usr/bin\n");
  write(root_ / "good" / "requirements.txt", kRequirements);
  write(root_ / "good" / "appose.json", b.fingerprint());
  auto m = appose::uv().content(kRequirements).name("edited");
  write(root_ / "edited" / "pyvenv.cfg", "home = /usr/bin\n");
  write(root_ / "edited" / "requirements.txt", "numpy\n");
  write(root_ / "edited" / "appose.json", m.fingerprint());
  fs::create_directories(root_ / "foreign" / "conda-meta");
  write(root_ / "foreign" / "big", std::string(4096, 'x'));
  fs::create_directories(root_ / ".uv" / "bin");  // the tool cache is not an environment

  auto list = appose::list_environments();
  ASSERT_EQ(list.size(), 3U);
  EXPECT_EQ(list[0].name, "edited");
  EXPECT_EQ(list[0].state, appose::EnvironmentState::modified);
  EXPECT_EQ(list[1].name, "foreign");
  EXPECT_EQ(list[1].type, "mamba");
  EXPECT_EQ(list[1].state, appose::EnvironmentState::no_fingerprint);
  EXPECT_GE(list[1].size_bytes, 4096U);
  EXPECT_FALSE(list[1].builder);
  EXPECT_EQ(list[2].name, "good");
  EXPECT_EQ(list[2].type, "uv");
  EXPECT_EQ(list[2].state, appose::EnvironmentState::up_to_date);
  EXPECT_EQ(list[2].builder, "uv");
  EXPECT_STREQ(appose::to_string(list[2].state), "up to date");
  EXPECT_TRUE(appose::list_environments(root_ / "nope").empty());
}

TEST_F(BuilderTest, CopiesAreIndependent) {
  auto base = appose::uv().include({"numpy"});
  auto a = base;
  a.include({"scipy"}).name("a");
  auto b = base;
  b.name("b");
  EXPECT_NE(a.fingerprint(), b.fingerprint());
  EXPECT_NE(a.fingerprint().find("scipy"), std::string::npos);
  EXPECT_EQ(b.fingerprint().find("scipy"), std::string::npos);
}
