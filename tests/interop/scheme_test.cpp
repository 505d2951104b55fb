// Scheme recognition and environment naming against the real appose-python 0.12
// (appose.scheme): the same content must be read as the same format, and land in the same
// environment directory, whichever Appose built it. One Python run checks the whole corpus.

#include <gtest/gtest.h>

#include <appose/error.hpp>
#include <appose/scheme.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "support/test_support.hpp"

namespace appose {
namespace {

using nlohmann::json;

// Reads {"cases": [content...], "names": [scheme name...]} as JSON on stdin; prints, as ASCII
// JSON, what appose.scheme makes of each.
constexpr const char* kScript = R"PY(
import json, sys
from appose import scheme

request = json.loads(sys.stdin.buffer.read().decode("utf-8"))
schemes = list(scheme._SCHEMES)
cases = []
for content in request["cases"]:
    try:
        detected = scheme.from_content(content).name()
    except ValueError:
        detected = "error"
    cases.append({
        "detected": detected,
        "env_name": {s.name(): s.env_name(content) for s in schemes},
        "supports": {s.name(): s.supports_content(content) for s in schemes},
    })
names = {}
for name in request["names"]:
    try:
        names[name] = scheme.from_name(name).name()
    except ValueError:
        names[name] = "error"
print(json.dumps({
    "order": [s.name() for s in schemes],
    "priorities": {s.name(): s.priority() for s in schemes},
    "cases": cases,
    "names": names,
}))
)PY";

struct Case {
  const char* label;
  std::string content;
};

// Contents on which a careless port would differ: line endings, whitespace Python strips (and
// whitespace it does not), quoting, the "starts with name" tests, markers in odd places.
std::vector<Case> corpus() {
  return {
      {"empty", ""},
      {"whitespace only", " \n\t\r\n\v\f "},
      {"pixi typical",
       "[workspace]\nname = \"pixi-env\"\nchannels = [\"conda-forge\"]\n"
       "platforms = [\"linux-64\"]\n\n[dependencies]\npython = \"3.11.*\"\n"},
      {"pixi CRLF", "[workspace]\r\nname = \"crlf\"\r\n[dependencies]\r\npython = \"*\"\r\n"},
      {"pixi leading blank lines", "\n\n   \n\t[workspace]\n  name = \"lead\"\n[dependencies]\n"},
      {"pixi single quotes", "name = 'single'\n[dependencies]\n"},
      {"pixi namespace first", "namespace = \"ns\"\nname = \"real\"\n[dependencies]\n"},
      {"pixi name_x first", "name_suffix=\"nx\"\nname = \"real\"\n[pypi-dependencies]\n"},
      {"pixi empty names skipped",
       "name = \"\"\nname = ''\nname = \"\nname = a=b\n[dependencies]\n"},
      {"pixi doubled quotes", "name = \"\"x\"\"\n[dependencies]\n"},
      {"pixi inline comment", "name = \"x\" # the name\n[dependencies]\n"},
      {"pixi name in dependencies only", "[dependencies]\nname = \"dep\"\n"},
      {"pixi feature dependencies only",
       "[workspace]\nname = \"w\"\n[feature.cuda.dependencies]\ncuda = \"*\"\n"},
      {"pixi pypi only", "[pypi-dependencies]\nappose = \"*\"\n"},
      {"pixi unclosed header", "[dependencies\npython = \"*\"\n"},
      {"pixi name no spaces", "name=\"tight\"\n[dependencies]"},
      {"project without dependencies", "[project]\nname = \"nodeps\"\nversion = \"1.0\"\n"},
      {"project with pixi dependencies",
       "[project]\nname = \"p\"\n[dependencies]\npython = \"*\"\n"},
      {"pyproject tool.pixi.workspace",
       "[project]\nname = \"pp\"\n[tool.pixi.workspace]\nchannels = [\"conda-forge\"]\n"},
      {"pyproject tool.pixi.dependencies",
       "[project]\nname = \"pp2\"\n[tool.pixi.dependencies]\npython = \"3.11\"\n"},
      {"pyproject PEP 621", "[project]\nname = \"pep\"\ndependencies = [\"numpy\"]\n"},
      {"pyproject project.dependencies table", "[project]\nname = \"t\"\n[project.dependencies]\n"},
      {"pyproject dependencies before project", "dependencies = []\n[project]\nname = \"late\"\n"},
      {"pyproject optional-dependencies", "[project]\nname = \"o\"\noptional-dependencies = {}\n"},
      {"pyproject tool name first",
       "[tool.x]\nname = \"tool\"\n[project]\nname = \"proj\"\ndependencies = []\n"},
      {"pyproject project.urls keeps section",
       "[project]\n[project.urls]\nname = \"urls\"\ndependencies = []\n"},
      {"pyproject other section closes",
       "[project]\ndependencies = []\n[tool.pixi]\nname = \"closed\"\n"},
      {"pyproject header with comment", "[project] # c\nname = \"p\"\ndependencies = []\n"},
      {"pyproject CRLF indented", "  [project]  \r\n  name='crlf'\r\n  dependencies = [ ]\r\n"},
      {"pyproject unicode space before =", "[project]\nname = \"u\"\ndependencies\u3000= []\n"},
      {"pyproject zero-width space before =", "[project]\nname = \"z\"\ndependencies\u200b= []\n"},
      {"tool.pixi.workspace alone", "[tool.pixi.workspace]\nname = \"w\"\n"},
      {"yml typical", "name: yml-env\nchannels:\n  - conda-forge\ndependencies:\n  - python\n"},
      {"yml double quotes", "name: \"dq\"\ndependencies: []\n"},
      {"yml single quotes kept", "name: 'sq'\ndependencies: []\n"},
      {"yml spaces inside quotes", "name: \" sp \"\n"},
      {"yml CRLF", "name: crlf\r\nchannels:\r\n  - conda-forge\r\n"},
      {"yml leading blank lines and indent", "\n\n    name: indented\n"},
      {"yml no name", "channels:\n  - conda-forge\ndependencies:\n  - numpy\n"},
      {"yml empty name then later", "name:\nname: \"\"\nname: second\n"},
      {"yml name comment", "name: x # comment\n"},
      {"yml name without space", "name:tight\n"},
      {"yml nested name", "dependencies:\n  - name: nested\n"},
      {"yml tab indent", "\tname: tabbed\n"},
      {"yml trailing unicode space", "name: x\u200a\u3000\n"},
      {"yml marker in comment", "name: x\n# see [dependencies] in pixi\n"},
      {"yml underscore key", "_private: 1\n"},
      {"yml dependencies first", "dependencies:\n  - numpy\n"},
      {"url looks like yml", "https://example.com/pkg.whl\n"},
      {"capital key", "Name: x\n"},
      {"req typical", "numpy==1.26\nscipy>=1.0\n"},
      {"req options first", "-r other.txt\nnumpy\n"},
      {"req editable", "-e .\n"},
      {"req comment first", "# deps\nnumpy\n"},
      {"req underscore", "_private\n"},
      {"req tilde spec", "numpy~=1.2\n"},
      {"req extras", "appose[all]\n"},
      {"unicode leading ideographic space", "\u3000\u00a0\u2028name: uni\n"},
      {"unicode leading NEL and others", "\u0085\u1680\u2000\u200a\u2029\u202f\u205fnumpy"},
      {"BOM is not whitespace", "\ufeffname: bom\n"},
      {"zero-width space is not whitespace", "\u200bnumpy\n"},
      {"ASCII separators", "\x1c\x1d\x1e\x1f\v\fnumpy\n"},
      {"non-ASCII yml name", "name: caf\u00e9-\U0001f9ca\n"},
      {"non-ASCII pixi name", "name = \"\u65e5\u672c\"\n[dependencies]\n"},
      {"NUL byte first", std::string("\0name: nul\n", 11)},
      {"pixi name only quote", "name = \"\n[dependencies]\n"},
      {"only brackets", "[]"},
      {"question marks", "???"},
  };
}

std::string show(const std::string& content) {
  return json(content).dump(-1, ' ', true);
}

json optional_json(const std::optional<std::string>& value) {
  return value ? json(*value) : json(nullptr);
}

TEST(SchemeInterop, MatchesAppposePythonOnCorpus) {
  APPOSE_REQUIRE_PYTHON_PEER();

  const std::vector<Case> cases = corpus();
  ASSERT_GE(cases.size(), 40u);
  const std::vector<std::string> names = {
      "pixi.toml", "pyproject.toml", "environment.yml", "requirements.txt", "",
      "pixi",      "PIXI.TOML",      " pixi.toml",      "environment.yaml"};
  json request;
  request["cases"] = json::array();
  for (const Case& c : cases)
    request["cases"].push_back(c.content);
  request["names"] = names;

  test::ProcessResult run = test::run_python(kScript, {}, request.dump(-1, ' ', true));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  json answer = json::parse(run.out);

  // Detection order and priorities.
  ASSERT_EQ(answer["order"].size(), Scheme::all().size());
  for (std::size_t i = 0; i < Scheme::all().size(); ++i) {
    const Scheme& s = Scheme::all()[i];
    EXPECT_EQ(answer["order"][i].get<std::string>(), s.name()) << "detection order, index " << i;
    EXPECT_EQ(answer["priorities"][std::string(s.name())].get<double>(), s.priority())
        << "priority of " << s.name();
  }

  // from_name.
  for (const std::string& name : names) {
    std::string ours;
    try {
      ours = std::string(Scheme::from_name(name).name());
    } catch (const BuildException&) {
      ours = "error";
    }
    EXPECT_EQ(ours, answer["names"][name].get<std::string>()) << "from_name(" << show(name) << ")";
  }

  // Each content: detection, and every scheme's supports_content and env_name.
  ASSERT_EQ(answer["cases"].size(), cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    const json& theirs = answer["cases"][i];
    std::string ours;
    try {
      ours = std::string(Scheme::from_content(c.content).name());
    } catch (const BuildException&) {
      ours = "error";
    }
    EXPECT_EQ(ours, theirs["detected"].get<std::string>())
        << "case " << i << " (" << c.label << "): detected scheme differs; content "
        << show(c.content);
    for (const Scheme& s : Scheme::all()) {
      const std::string name(s.name());
      EXPECT_EQ(s.supports_content(c.content), theirs["supports"][name].get<bool>())
          << "case " << i << " (" << c.label << "): " << name
          << ".supports_content differs; content " << show(c.content);
      EXPECT_EQ(optional_json(s.env_name(c.content)), theirs["env_name"][name])
          << "case " << i << " (" << c.label << "): " << name << ".env_name differs; content "
          << show(c.content);
    }
  }
}

}  // namespace
}  // namespace appose
