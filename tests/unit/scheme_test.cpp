// Scheme: recognising a configuration format from text, the environment name it implies, and
// validating it with real parsers. The recognition rules mirror appose-python 0.12; the
// interop test (tests/interop/scheme_test.cpp) checks them against Python itself.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <appose/error.hpp>
#include <appose/scheme.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace appose {
namespace {

using ::testing::HasSubstr;

const Scheme kPyproject = Scheme::pyproject_toml();
const Scheme kPixi = Scheme::pixi_toml();
const Scheme kYml = Scheme::environment_yml();
const Scheme kReq = Scheme::requirements_txt();

/// The name from_content() picks, or "error".
std::string detect(std::string_view content) {
  try {
    return std::string(Scheme::from_content(content).name());
  } catch (const BuildException&) {
    return "error";
  }
}

/// The message validate() throws, or "" when the content is valid.
std::string invalid(const Scheme& scheme, std::string_view content) {
  try {
    scheme.validate(content);
    return "";
  } catch (const BuildException& e) {
    return e.what();
  }
}

TEST(SchemeNames, AllInDetectionOrderWithPythonPriorities) {
  auto all = Scheme::all();
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0], kPyproject);
  EXPECT_EQ(all[1], kPixi);
  EXPECT_EQ(all[2], kYml);
  EXPECT_EQ(all[3], kReq);
  EXPECT_EQ(kPyproject.name(), "pyproject.toml");
  EXPECT_EQ(kPixi.name(), "pixi.toml");
  EXPECT_EQ(kYml.name(), "environment.yml");
  EXPECT_EQ(kReq.name(), "requirements.txt");
  EXPECT_EQ(kPyproject.priority(), 100.0);
  EXPECT_EQ(kPixi.priority(), 50.0);
  EXPECT_EQ(kYml.priority(), 20.0);
  EXPECT_EQ(kReq.priority(), 0.0);
  for (std::size_t i = 1; i < all.size(); ++i)
    EXPECT_GT(all[i - 1].priority(), all[i].priority());
  EXPECT_EQ(kPixi.kind(), Scheme::Kind::pixi_toml);
  EXPECT_NE(kPixi, kPyproject);
}

TEST(SchemeNames, FromNameRoundTrips) {
  for (const Scheme& s : Scheme::all())
    EXPECT_EQ(Scheme::from_name(s.name()), s);
}

TEST(SchemeNames, FromNameRejectsUnknownAndListsKnown) {
  for (std::string_view bad : {"", "pixi", "PIXI.TOML", "environment.yaml", " pixi.toml"}) {
    try {
      Scheme::from_name(bad);
      ADD_FAILURE() << "accepted \"" << bad << "\"";
    } catch (const BuildException& e) {
      std::string what = e.what();
      EXPECT_THAT(what, HasSubstr("unknown scheme"));
      for (const Scheme& s : Scheme::all())
        EXPECT_THAT(what, HasSubstr(std::string(s.name())));
    }
  }
}

TEST(SchemeDetection, TypicalFiles) {
  EXPECT_EQ(detect("[project]\nname = \"x\"\ndependencies = [\"numpy\"]\n"), "pyproject.toml");
  EXPECT_EQ(detect("[project]\nname = \"x\"\n[tool.pixi.dependencies]\npython = \"3.11\"\n"),
            "pyproject.toml");
  EXPECT_EQ(detect("[project]\nname = \"x\"\n[project.dependencies]\n"), "pyproject.toml");
  EXPECT_EQ(detect("[workspace]\nname = \"x\"\n[dependencies]\npython = \"3.11.*\"\n"),
            "pixi.toml");
  EXPECT_EQ(detect("[pypi-dependencies]\nappose = \"*\"\n"), "pixi.toml");
  EXPECT_EQ(detect("name: x\nchannels:\n  - conda-forge\ndependencies:\n  - python\n"),
            "environment.yml");
  EXPECT_EQ(detect("numpy==1.26\nappose\n"), "requirements.txt");
}

TEST(SchemeDetection, PythonHeuristicsQuirks) {
  // [project] without dependencies is not pyproject.toml; with [dependencies] it is pixi.toml.
  EXPECT_EQ(detect("[project]\nname = \"x\"\n"), "error");
  EXPECT_EQ(detect("[project]\nname = \"x\"\n[dependencies]\n"), "pixi.toml");
  // "dependencies =" anywhere after [project] counts, even in another section.
  EXPECT_EQ(detect("[project]\nname = \"x\"\n[other]\noptional-dependencies\t=\n"),
            "pyproject.toml");
  // A TOML file that starts with a bare key is taken for requirements.txt.
  EXPECT_EQ(detect("dependencies = []\n[project]\nname = \"x\"\n"), "requirements.txt");
  // Any lowercase `key:` at the start is YAML, even a URL scheme.
  EXPECT_EQ(detect("https://example.com/pkg.whl"), "environment.yml");
  EXPECT_EQ(detect("Name: x"), "requirements.txt");
  EXPECT_EQ(detect("-r other.txt\nnumpy\n"), "requirements.txt");
  EXPECT_EQ(detect("_private: 1"), "environment.yml");
  EXPECT_EQ(detect("# comment\nnumpy\n"), "error");
  EXPECT_EQ(detect(""), "error");
  EXPECT_EQ(detect(" \n\t\r\n"), "error");
  EXPECT_EQ(detect("[dependencies"), "error");
}

TEST(SchemeDetection, StripsPythonWhitespaceIncludingUnicode) {
  EXPECT_EQ(detect("\r\n\r\n  name: x\r\n"), "environment.yml");
  EXPECT_EQ(detect("\x1c\x1f\v\fnumpy"), "requirements.txt");
  EXPECT_EQ(detect("\u3000\u00a0\u2028name: x"), "environment.yml");
  EXPECT_EQ(detect("\u0085\u1680\u2000\u200a\u2029\u202f\u205fnumpy"), "requirements.txt");
  // Not whitespace to Python: the byte-order mark, the zero-width space.
  EXPECT_EQ(detect("\ufeffname: x"), "error");
  EXPECT_EQ(detect("\u200bnumpy"), "error");
  // \s in "dependencies\s*=" is Unicode whitespace too.
  EXPECT_EQ(detect("[project]\ndependencies\u3000= []"), "pyproject.toml");
  EXPECT_EQ(detect("[project]\ndependencies\u200b= []"), "error");
}

TEST(SchemeDetection, FromContentErrorSaysWhatToDo) {
  try {
    Scheme::from_content("???");
    FAIL() << "accepted ???";
  } catch (const BuildException& e) {
    EXPECT_THAT(e.what(), HasSubstr("cannot tell the scheme"));
    EXPECT_THAT(e.what(), HasSubstr("scheme("));
  }
}

TEST(SchemeEnvName, PixiToml) {
  EXPECT_EQ(kPixi.env_name("[workspace]\nname = \"my-env\"\n"), "my-env");
  EXPECT_EQ(kPixi.env_name("name='x'"), "x");
  EXPECT_EQ(kPixi.env_name("name = \"x'"), "x");
  EXPECT_EQ(kPixi.env_name("  name   =   x  \r\n"), "x");
  // Python looks at lines starting with "name", in any section.
  EXPECT_EQ(kPixi.env_name("namespace = \"ns\"\nname = \"x\"\n"), "ns");
  EXPECT_EQ(kPixi.env_name("[dependencies]\nname = \"dep\""), "dep");
  // Empty values are skipped; the first '=' splits.
  EXPECT_EQ(kPixi.env_name("name = \"\"\nname = ''\nname = \"\nname = a=b\n"), "a=b");
  // Only one quote comes off each end.
  EXPECT_EQ(kPixi.env_name("name = \"\"x\"\""), "\"x\"");
  EXPECT_EQ(kPixi.env_name("name: x"), std::nullopt);
  EXPECT_EQ(kPixi.env_name(""), std::nullopt);
  EXPECT_EQ(kPixi.env_name("\u00a0name = \u00e9t\u00e9\u3000"), "\u00e9t\u00e9");
}

TEST(SchemeEnvName, PyprojectToml) {
  EXPECT_EQ(kPyproject.env_name("[project]\nname = \"proj\"\n"), "proj");
  EXPECT_EQ(kPyproject.env_name("name = \"top\"\n[project]\nversion = \"1\"\n"), std::nullopt);
  EXPECT_EQ(kPyproject.env_name("[tool.x]\nname = \"t\"\n[project]\nname = \"p\"\n"), "p");
  // [project.*] headers neither open nor close the section.
  EXPECT_EQ(kPyproject.env_name("[project]\n[project.urls]\nname = \"u\"\n"), "u");
  EXPECT_EQ(kPyproject.env_name("[project.urls]\nname = \"u\"\n"), std::nullopt);
  EXPECT_EQ(kPyproject.env_name("[project]\n[tool.pixi]\nname = \"t\"\n"), std::nullopt);
  EXPECT_EQ(kPyproject.env_name("  [project]  \r\n  name='p'\r\n"), "p");
  EXPECT_EQ(kPyproject.env_name("[project] # c\nname = \"p\"\n"), std::nullopt);
}

TEST(SchemeEnvName, EnvironmentYml) {
  EXPECT_EQ(kYml.env_name("name: my-env\n"), "my-env");
  EXPECT_EQ(kYml.env_name("name: \"quoted\"\n"), "quoted");
  // Single quotes stay, as in appose-python.
  EXPECT_EQ(kYml.env_name("name: 'single'\n"), "'single'");
  EXPECT_EQ(kYml.env_name("name: \" sp \"\n"), " sp ");
  EXPECT_EQ(kYml.env_name("name: x # comment\n"), "x # comment");
  EXPECT_EQ(kYml.env_name("name:\nname: \"\"\nname: second\n"), "second");
  EXPECT_EQ(kYml.env_name("  - name: nested\n"), std::nullopt);
  EXPECT_EQ(kYml.env_name("   name:indented\r\n"), "indented");
  EXPECT_EQ(kYml.env_name("name = x"), std::nullopt);
}

TEST(SchemeEnvName, RequirementsTxtHasNone) {
  EXPECT_EQ(kReq.env_name("name = x\nname: y\n"), std::nullopt);
}

TEST(SchemeValidate, AcceptsValidFiles) {
  EXPECT_EQ(invalid(kPixi,
                    "[workspace]\nname = \"x\"\nchannels = [\"conda-forge\"]\n"
                    "[dependencies]\npython = \"3.11.*\"\n[pypi-dependencies]\n"
                    "appose = { version = \"*\" }\n"),
            "");
  EXPECT_EQ(invalid(kPixi, "dependencies = { python = \"3.11\" }\n"), "");
  EXPECT_EQ(invalid(kPyproject, "[project]\nname = \"x\"\ndependencies = [\"numpy\"]\n"), "");
  EXPECT_EQ(invalid(kPyproject, "[project]\nname = \"x\"\n[tool.pixi.workspace]\n"), "");
  EXPECT_EQ(invalid(kYml,
                    "name: x\nchannels:\n  - conda-forge\ndependencies:\n  - python=3.11\n"
                    "  - pip:\n    - appose\n"),
            "");
  EXPECT_EQ(invalid(kYml, "name: x\n"), "");
  EXPECT_EQ(invalid(kReq, ""), "");
  EXPECT_EQ(invalid(kReq,
                    "# comment\n\n-r other.txt\n--index-url https://x/simple\nnumpy==1.26\n"
                    "appose[extra1,extra2] >= 0.3 ; python_version >= \"3.10\"\n"
                    "pkg @ https://example.com/pkg-1.0.tar.gz\n"
                    "./local/dir\nfoo-1.0+cpu-py3-none-any.whl\n"
                    "requests[security] (>=2.0)\nfoo --hash=sha256:abcd\n"
                    "scipy  # a comment with ] and (\n"
                    "multi[a,\\\n b]\r\n"
                    "git+https://github.com/x/y.git#egg=y\n"),
            "");
}

TEST(SchemeValidate, TomlSyntaxErrorsGiveLineAndColumn) {
  std::string what = invalid(kPixi, "[workspace]\nname = \"x\"\nchannels = [\"a\" \"b\"]\n");
  EXPECT_THAT(what, HasSubstr("pixi.toml: line 3, column "));
  EXPECT_THAT(what, HasSubstr("fix the TOML syntax"));
  what = invalid(kPyproject, "[project]\nname = \n");
  EXPECT_THAT(what, HasSubstr("pyproject.toml: line 2, column "));
  what = invalid(kPixi, "[dependencies]\n[dependencies]\n");
  EXPECT_THAT(what, HasSubstr("pixi.toml: line 2, column 1:"));
}

TEST(SchemeValidate, TomlStructure) {
  std::string what = invalid(kPixi, "\ndependencies = [\"python\"]\n[workspace]\nname = \"x\"\n");
  EXPECT_THAT(what, HasSubstr("pixi.toml: line 2, column "));
  EXPECT_THAT(what, HasSubstr("`dependencies` is an array"));
  EXPECT_THAT(what, HasSubstr("[dependencies]"));
  what = invalid(kPixi, "pypi-dependencies = \"appose\"\n");
  EXPECT_THAT(what, HasSubstr("`pypi-dependencies` is a string"));
  what = invalid(kPyproject, "[tool.pixi.workspace]\nname = \"x\"\n");
  EXPECT_THAT(what, HasSubstr("pyproject.toml: there is no [project] table"));
  what = invalid(kPyproject, "project = 3\n");
  EXPECT_THAT(what, HasSubstr("pyproject.toml: line 1, column "));
  EXPECT_THAT(what, HasSubstr("`project` is an integer"));
  what = invalid(kPyproject, "[project]\nname = \"x\"\ndependencies = \"numpy\"\n");
  EXPECT_THAT(what, HasSubstr("pyproject.toml: line 3, column "));
  EXPECT_THAT(what, HasSubstr("`project.dependencies` is a string"));
}

TEST(SchemeValidate, YamlSyntaxErrorsGiveOneBasedLineAndColumn) {
  std::string what = invalid(kYml, "name: x\ndependencies:\n  - [python\n");
  EXPECT_THAT(what, HasSubstr("environment.yml: line "));
  EXPECT_THAT(what, HasSubstr("fix the YAML syntax"));
  what = invalid(kYml, "name: x\n\tdependencies: []\n");
  EXPECT_THAT(what, HasSubstr("environment.yml: line 2, column "));
  what = invalid(kYml, "name: x: y\n");
  EXPECT_EQ(what,
            "environment.yml: line 1, column 8: illegal map value; fix the YAML syntax there");
  // yaml-cpp 0.7 forgives a quoted scalar left open at the end of the file.
  EXPECT_EQ(invalid(kYml, "name: \"x\n"), "");
}

TEST(SchemeValidate, YamlStructure) {
  std::string what = invalid(kYml, "- python\n- numpy\n");
  EXPECT_THAT(what, HasSubstr("environment.yml: line 1, column 1: the document is a list"));
  EXPECT_THAT(what, HasSubstr("mapping"));
  EXPECT_THAT(invalid(kYml, ""), HasSubstr("environment.yml: "));
  EXPECT_THAT(invalid(kYml, "just text"), HasSubstr("the document is a single value"));
  what = invalid(kYml, "name: x\ndependencies: python\n");
  EXPECT_THAT(what, HasSubstr("environment.yml: line 2, column 15: `dependencies` is a single"));
  what = invalid(kYml, "name: x\nchannels:\n  conda-forge: 1\ndependencies: []\n");
  EXPECT_THAT(what, HasSubstr("environment.yml: line 3, column 3: `channels` is a mapping"));
  EXPECT_THAT(what, HasSubstr("- item"));
}

TEST(SchemeValidate, RequirementsBrackets) {
  EXPECT_EQ(invalid(kReq, "numpy\nappose[extra\n"),
            "requirements.txt: line 2, column 7: '[' is never closed; add the missing ']'");
  EXPECT_EQ(invalid(kReq, "  numpy)\n"),
            "requirements.txt: line 1, column 8: ')' closes nothing; remove it or add the "
            "missing '('");
  EXPECT_THAT(invalid(kReq, "a[x)]\n"), HasSubstr("line 1, column 4: ')' does not match the '['"));
  // A continued line reports the physical line of the problem.
  EXPECT_THAT(invalid(kReq, "pkg[a,\\\n  b])\n"),
              HasSubstr("line 2, column 5: ')' closes nothing"));
  // A comment ending in '\' does not swallow the next line.
  EXPECT_THAT(invalid(kReq, "# note \\\nnumpy)\n"), HasSubstr("line 2, column 6: ')' closes"));
  // Quoted markers may hold anything.
  EXPECT_EQ(invalid(kReq, "pkg ; platform_version == \"(x\"\n"), "");
}

TEST(SchemeValidate, RequirementsNames) {
  EXPECT_THAT(invalid(kReq, "numpy\nnum*py\n"),
              HasSubstr("requirements.txt: line 2, column 4: unexpected '*' after the package "
                        "name \"num\""));
  EXPECT_THAT(invalid(kReq, "numpy 1.26\n"), HasSubstr("line 1, column 7: unexpected '1'"));
  EXPECT_THAT(invalid(kReq, "numpy:1.26\n"), HasSubstr("line 1, column 6: unexpected ':'"));
  EXPECT_THAT(invalid(kReq, "caf\u00e9\n"), HasSubstr("unexpected '\u00e9'"));
  EXPECT_THAT(invalid(kReq, "\n\n_private\n"),
              HasSubstr("line 3, column 1: a requirement starts with a package name"));
  EXPECT_THAT(invalid(kReq, "\"numpy\"\n"), HasSubstr("not '\"'"));
}

}  // namespace
}  // namespace appose
