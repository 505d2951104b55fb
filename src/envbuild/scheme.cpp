#include "appose/scheme.hpp"

#include <fmt/format.h>
#include <toml++/toml.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "appose/error.hpp"
#include "envbuild/appose_check.hpp"
#include "util/fs_util.hpp"
#include "util/utf8.hpp"

namespace appose {

namespace {

// ---------------------------------------------------------------------------------------------
// Python's str semantics on UTF-8 text. The heuristics must see the same whitespace as
// appose-python's str.strip() (and the \s of its regular expressions, the same set), or a file
// with, say, an ideographic space before "name:" would be named differently by the two.

/// Whether the byte is whitespace to Python: \t \n \v \f \r, the separators \x1c-\x1f, space.
bool is_ascii_space(unsigned char c) noexcept {
  return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20);
}

/// Whether the three bytes encode one of the three-byte code points Python calls whitespace:
/// U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000.
bool is_space3(unsigned char a, unsigned char b, unsigned char c) noexcept {
  if (a == 0xe1) return b == 0x9a && c == 0x80;
  if (a == 0xe2) {
    if (b == 0x80) return (c >= 0x80 && c <= 0x8a) || c == 0xa8 || c == 0xa9 || c == 0xaf;
    return b == 0x81 && c == 0x9f;
  }
  return a == 0xe3 && b == 0x80 && c == 0x80;
}

/// Whether the two bytes encode U+0085 or U+00A0.
bool is_space2(unsigned char a, unsigned char b) noexcept {
  return a == 0xc2 && (b == 0x85 || b == 0xa0);
}

/// The byte length of the whitespace code point starting at s[i], 0 if there is none.
std::size_t space_at(std::string_view s, std::size_t i) noexcept {
  auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  if (i >= s.size()) return 0;
  if (is_ascii_space(at(i))) return 1;
  if (i + 1 < s.size() && is_space2(at(i), at(i + 1))) return 2;
  if (i + 2 < s.size() && is_space3(at(i), at(i + 1), at(i + 2))) return 3;
  return 0;
}

/// The byte length of the whitespace code point ending just before s[end], 0 if there is none.
std::size_t space_before(std::string_view s, std::size_t end) noexcept {
  auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  if (end == 0) return 0;
  if (is_ascii_space(at(end - 1))) return 1;
  if (end >= 2 && is_space2(at(end - 2), at(end - 1))) return 2;
  if (end >= 3 && is_space3(at(end - 3), at(end - 2), at(end - 1))) return 3;
  return 0;
}

/// Python's str.strip().
std::string_view py_strip(std::string_view s) noexcept {
  std::size_t begin = 0;
  while (std::size_t n = space_at(s, begin))
    begin += n;
  std::size_t end = s.size();
  while (end > begin) {
    std::size_t n = space_before(s, end);
    if (n == 0) break;
    end -= n;
  }
  return s.substr(begin, end - begin);
}

/// Python's str.split("\n"): an empty string still gives one (empty) line.
std::vector<std::string_view> split_lines(std::string_view s) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  for (;;) {
    std::size_t nl = s.find('\n', start);
    if (nl == std::string_view::npos) {
      lines.push_back(s.substr(start));
      return lines;
    }
    lines.push_back(s.substr(start, nl - start));
    start = nl + 1;
  }
}

bool contains(std::string_view s, std::string_view part) noexcept {
  return s.find(part) != std::string_view::npos;
}

bool is_quote(char c) noexcept {
  return c == '"' || c == '\'';
}

/// re.sub(r'^["\']|["\']$', "", v): one quote of either kind off each end, independently.
std::string_view strip_one_quote(std::string_view v) noexcept {
  if (!v.empty() && is_quote(v.front())) v.remove_prefix(1);
  if (!v.empty() && is_quote(v.back())) v.remove_suffix(1);
  return v;
}

/// The value of a `name = value` line as appose-python reads it: after the first '=',
/// stripped, one quote off each end. Empty means "keep looking".
std::string_view toml_line_value(std::string_view trimmed) noexcept {
  return strip_one_quote(py_strip(trimmed.substr(trimmed.find('=') + 1)));
}

/// Whether `trimmed` is a `name ... = ...` line: the test is "starts with name", so it also
/// catches `namespace = ...` and `name_x = ...`, as appose-python does.
bool is_name_line(std::string_view trimmed) noexcept {
  return trimmed.starts_with("name") && contains(trimmed, "=");
}

/// re.search(r"\[.*\]", s, re.DOTALL): a '[' somewhere before a ']'.
bool has_bracket_pair(std::string_view s) noexcept {
  std::size_t open = s.find('[');
  return open != std::string_view::npos && s.find(']', open + 1) != std::string_view::npos;
}

/// re.search(r"\[project\].*dependencies\s*=", s, re.DOTALL). Any match must start at some
/// "[project]", and the first one leaves the most room, so only "dependencies" after it count.
bool has_project_dependencies_assignment(std::string_view s) noexcept {
  constexpr std::string_view kSection = "[project]";
  constexpr std::string_view kKey = "dependencies";
  std::size_t section = s.find(kSection);
  if (section == std::string_view::npos) return false;
  for (std::size_t key = s.find(kKey, section + kSection.size()); key != std::string_view::npos;
       key = s.find(kKey, key + 1)) {
    std::size_t i = key + kKey.size();
    while (std::size_t n = space_at(s, i))
      i += n;
    if (i < s.size() && s[i] == '=') return true;
  }
  return false;
}

bool is_ascii_alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// ---------------------------------------------------------------------------------------------
// Validation.

/// What Scheme::validate() reports as the file when it is given none.
constexpr std::string_view kNoFile = "<content>";

/// Throws the ConfigError of every validation failure: the scheme first, so that the reader
/// knows which file is meant, then where, then what to do. Scheme::validate() puts the file in
/// front when it knows one (in_file()).
[[noreturn]] void fail_at(const Scheme& scheme, std::size_t line, std::size_t column,
                          std::string_view problem) {
  throw ConfigError(fmt::format("{}: line {}, column {}: {}", scheme.name(), line, column, problem),
                    std::string(kNoFile), line, column);
}

[[noreturn]] void fail(const Scheme& scheme, std::string_view problem) {
  throw ConfigError(fmt::format("{}: {}", scheme.name(), problem), std::string(kNoFile), 0, 0);
}

/// `e` as found in `file`: the message names the file (and the scheme too when the file's name
/// does not say it), and file() is `file`.
ConfigError in_file(const ConfigError& e, const Scheme& scheme, std::string_view file) {
  std::string_view what = e.what();
  const std::string prefix = fmt::format("{}: ", scheme.name());
  if (what.starts_with(prefix)) what.remove_prefix(prefix.size());
  const bool named_after_scheme =
      detail::utf8_string(detail::utf8_path(file).filename()) == scheme.name();
  std::string where =
      named_after_scheme ? std::string(file) : fmt::format("{} ({})", file, scheme.name());
  return {fmt::format("{}: {}", where, what), std::string(file), e.line(), e.column()};
}

const char* toml_type_name(const toml::node& node) noexcept {
  switch (node.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

[[noreturn]] void fail_at_node(const Scheme& scheme, const toml::node& node,
                               std::string_view problem) {
  const toml::source_position& at = node.source().begin;
  if (at.line == 0) fail(scheme, problem);
  fail_at(scheme, at.line, at.column, problem);
}

toml::table parse_toml(const Scheme& scheme, std::string_view content) {
  constexpr std::string_view kAdvice = "; fix the TOML syntax there";
#if TOML_EXCEPTIONS
  try {
    return toml::parse(content);
  } catch (const toml::parse_error& e) {
    const toml::source_position& at = e.source().begin;
    fail_at(scheme, at.line, at.column, fmt::format("{}{}", e.description(), kAdvice));
  }
#else
  toml::parse_result result = toml::parse(content);
  if (!result) {
    const toml::source_position& at = result.error().source().begin;
    fail_at(scheme, at.line, at.column, fmt::format("{}{}", result.error().description(), kAdvice));
  }
  return std::move(result).table();
#endif
}

void validate_pixi_toml(const Scheme& scheme, std::string_view content) {
  toml::table root = parse_toml(scheme, content);
  for (std::string_view key : {"dependencies", "pypi-dependencies"}) {
    const toml::node* node = root.get(key);
    if (node != nullptr && !node->is_table()) {
      fail_at_node(scheme, *node,
                   fmt::format("`{}` is {}, but pixi needs a table: write [{}] and below it one "
                               "`package = \"version\"` line per package",
                               key, toml_type_name(*node), key));
    }
  }
}

void validate_pyproject_toml(const Scheme& scheme, std::string_view content) {
  toml::table root = parse_toml(scheme, content);
  const toml::node* project = root.get("project");
  if (project == nullptr) {
    fail(scheme,
         "there is no [project] table; add one with the project's name and its dependencies "
         "(or pass the scheme that matches the file)");
  }
  if (!project->is_table()) {
    fail_at_node(scheme, *project,
                 fmt::format("`project` is {}, but must be a table: write [project] and below it "
                             "the name and dependencies",
                             toml_type_name(*project)));
  }
  const toml::node* deps = project->as_table()->get("dependencies");
  if (deps != nullptr && !deps->is_array()) {
    fail_at_node(scheme, *deps,
                 fmt::format("`project.dependencies` is {}, but must be an array of requirement "
                             "strings, e.g. dependencies = [\"numpy>=1.24\"]",
                             toml_type_name(*deps)));
  }
}

const char* yaml_type_name(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a single value";
    case YAML::NodeType::Null:
      return "empty";
    case YAML::NodeType::Undefined:
      break;
  }
  return "undefined";
}

[[noreturn]] void fail_at_yaml(const Scheme& scheme, const YAML::Mark& mark,
                               std::string_view problem) {
  if (mark.is_null() || mark.line < 0 || mark.column < 0) fail(scheme, problem);
  fail_at(scheme, static_cast<std::size_t>(mark.line) + 1,
          static_cast<std::size_t>(mark.column) + 1, problem);
}

void validate_environment_yml(const Scheme& scheme, std::string_view content) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(content));
  } catch (const YAML::Exception& e) {
    fail_at_yaml(scheme, e.mark, fmt::format("{}; fix the YAML syntax there", e.msg));
  }
  if (!root.IsMap()) {
    fail_at_yaml(scheme, root.Mark(),
                 fmt::format("the document is {}, but must be a mapping with `name:`, "
                             "`channels:` and `dependencies:` keys",
                             yaml_type_name(root)));
  }
  const YAML::Node& map = root;
  for (const char* key : {"channels", "dependencies"}) {
    YAML::Node value = map[key];
    if (value && !value.IsSequence()) {
      fail_at_yaml(scheme, value.Mark(),
                   fmt::format("`{}` is {}, but must be a list: one `- item` line per entry", key,
                               yaml_type_name(value)));
    }
  }
}

/// A requirements.txt line as pip reads it: physical lines ending in '\' joined to the next,
/// with where each physical line starts, so that a problem can be reported where it is.
struct LogicalLine {
  std::string text;
  struct Piece {
    std::size_t offset;  ///< where this physical line begins in `text`
    std::size_t line;    ///< its 1-based line number
  };
  std::vector<Piece> pieces;

  /// The 1-based line and column of text[offset].
  [[nodiscard]] std::pair<std::size_t, std::size_t> where(std::size_t offset) const {
    const Piece* piece = &pieces.front();
    for (const Piece& p : pieces) {
      if (p.offset <= offset) piece = &p;
    }
    return {piece->line, offset - piece->offset + 1};
  }
};

std::vector<LogicalLine> requirement_lines(std::string_view content) {
  std::vector<LogicalLine> result;
  LogicalLine current;
  std::size_t number = 0;
  for (std::string_view line : split_lines(content)) {
    ++number;
    if (line.ends_with('\r')) line.remove_suffix(1);
    current.pieces.push_back({current.text.size(), number});
    // As in pip, a comment line never continues, even when it ends in '\'.
    if (line.ends_with('\\') && !py_strip(line).starts_with('#')) {
      line.remove_suffix(1);
      current.text += line;
      continue;
    }
    current.text += line;
    result.push_back(std::move(current));
    current = LogicalLine{};
  }
  if (!current.pieces.empty()) result.push_back(std::move(current));
  return result;
}

/// Whether the requirement is a path, a URL or an archive rather than `name[extras] spec`:
/// those have no package name to check.
bool is_path_or_url(std::string_view text) {
  std::string_view token = text.substr(0, text.find_first_of(" \t;"));
  if (contains(token, "/") || contains(token, "\\")) return true;
  for (std::string_view ext : {".whl", ".zip", ".tar.gz", ".tar.bz2", ".tar.xz", ".tgz"}) {
    if (token.ends_with(ext)) return true;
  }
  return false;
}

void check_brackets(const Scheme& scheme, const LogicalLine& line, std::string_view text,
                    std::size_t base) {
  std::vector<std::size_t> open;
  char quote = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quote != 0) {
      if (c == quote) quote = 0;
      continue;
    }
    if (is_quote(c)) {
      quote = c;
    } else if (c == '[' || c == '(') {
      open.push_back(i);
    } else if (c == ']' || c == ')') {
      char want = c == ']' ? '[' : '(';
      if (open.empty() || text[open.back()] != want) {
        auto [l, col] = line.where(base + i);
        fail_at(scheme, l, col,
                open.empty()
                    ? fmt::format("'{}' closes nothing; remove it or add the missing '{}'", c, want)
                    : fmt::format("'{}' does not match the '{}' before it; balance the brackets", c,
                                  text[open.back()]));
      }
      open.pop_back();
    }
  }
  if (!open.empty()) {
    auto [l, col] = line.where(base + open.back());
    fail_at(scheme, l, col,
            fmt::format("'{}' is never closed; add the missing '{}'", text[open.back()],
                        text[open.back()] == '[' ? ']' : ')'));
  }
}

void check_name(const Scheme& scheme, const LogicalLine& line, std::string_view text,
                std::size_t base) {
  if (is_path_or_url(text)) return;
  auto fail_here = [&](std::size_t i, std::string_view problem) {
    auto [l, col] = line.where(base + i);
    fail_at(scheme, l, col, problem);
  };
  if (!is_ascii_alnum(text[0])) {
    if (std::string_view("./~$").find(text[0]) != std::string_view::npos) return;  // a path
    fail_here(0, fmt::format("a requirement starts with a package name (a letter or digit), a "
                             "path or a URL, not '{}'",
                             text.substr(0, detail::utf8::sequence_length(text, 0))));
  }
  std::size_t i = 1;
  while (i < text.size() &&
         (is_ascii_alnum(text[i]) || text[i] == '.' || text[i] == '_' || text[i] == '-')) {
    ++i;
  }
  std::string_view name = text.substr(0, i);
  std::size_t after = i;
  while (i < text.size() && (text[i] == ' ' || text[i] == '\t'))
    ++i;
  if (i == text.size()) return;
  // Directly after the name come extras, a version or a marker; after a space also the
  // per-requirement options (--hash=...).
  std::string_view allowed = i == after ? "[(<>=!~;@" : "[(<>=!~;@-";
  if (allowed.find(text[i]) == std::string_view::npos) {
    fail_here(i, fmt::format("unexpected '{}' after the package name \"{}\"; write the name, then "
                             "optional [extras], a version such as ==1.2 or >=1.0, and an "
                             "optional ; marker",
                             text.substr(i, detail::utf8::sequence_length(text, i)), name));
  }
}

/// A requirements.txt line without its comment: pip drops a `#` that starts the line or
/// follows whitespace, and what comes after it.
std::string_view without_comment(std::string_view text) noexcept {
  for (std::size_t hash = text.find('#'); hash != std::string_view::npos;
       hash = text.find('#', hash + 1)) {
    if (hash == 0 || text[hash - 1] == ' ' || text[hash - 1] == '\t') return text.substr(0, hash);
  }
  return text;
}

void validate_requirements_txt(const Scheme& scheme, std::string_view content) {
  for (const LogicalLine& line : requirement_lines(content)) {
    std::string_view trimmed = py_strip(without_comment(line.text));
    if (trimmed.empty() || trimmed.front() == '-') continue;  // blank, comment or option
    auto base = static_cast<std::size_t>(trimmed.data() - line.text.data());
    check_brackets(scheme, line, trimmed, base);
    check_name(scheme, line, trimmed, base);
  }
}

}  // namespace

std::span<const Scheme> Scheme::all() noexcept {
  static const std::array<Scheme, 4> schemes = {pyproject_toml(), pixi_toml(), environment_yml(),
                                                requirements_txt()};
  return schemes;
}

Scheme Scheme::from_name(std::string_view name) {
  std::string known;
  for (const Scheme& scheme : all()) {
    if (scheme.name() == name) return scheme;
    known += known.empty() ? "" : ", ";
    known += scheme.name();
  }
  throw BuildException(fmt::format("unknown scheme \"{}\"; the known schemes are {}", name, known));
}

Scheme Scheme::from_content(std::string_view content) {
  for (const Scheme& scheme : all()) {
    if (scheme.supports_content(content)) return scheme;
  }
  throw BuildException(
      "cannot tell the scheme of this content (it looks like none of pyproject.toml, pixi.toml, "
      "environment.yml or requirements.txt); pass scheme(\"pixi.toml\") or the name of the "
      "format it is in");
}

std::string_view Scheme::name() const noexcept {
  switch (kind_) {
    case Kind::pyproject_toml:
      return "pyproject.toml";
    case Kind::pixi_toml:
      return "pixi.toml";
    case Kind::environment_yml:
      return "environment.yml";
    case Kind::requirements_txt:
      return "requirements.txt";
  }
  return "unknown";
}

double Scheme::priority() const noexcept {
  switch (kind_) {
    case Kind::pyproject_toml:
      return 100.0;
    case Kind::pixi_toml:
      return 50.0;
    case Kind::environment_yml:
      return 20.0;
    case Kind::requirements_txt:
      return 0.0;
  }
  return 0.0;
}

bool Scheme::supports_content(std::string_view content) const {
  if (content.empty()) return false;
  std::string_view trimmed = py_strip(content);
  switch (kind_) {
    case Kind::pyproject_toml:
      return has_bracket_pair(trimmed) && contains(trimmed, "[project]") &&
             (contains(trimmed, "[tool.pixi.") || contains(trimmed, "[project.dependencies]") ||
              has_project_dependencies_assignment(trimmed));
    case Kind::pixi_toml:
      return has_bracket_pair(trimmed) &&
             (contains(trimmed, "[dependencies]") || contains(trimmed, "[pypi-dependencies]"));
    case Kind::environment_yml: {
      // ^[a-z_]+: (the "name:", "channels:" and "dependencies:" prefixes are special cases).
      std::size_t i = 0;
      while (i < trimmed.size() && ((trimmed[i] >= 'a' && trimmed[i] <= 'z') || trimmed[i] == '_'))
        ++i;
      return i > 0 && i < trimmed.size() && trimmed[i] == ':';
    }
    case Kind::requirements_txt:
      return !trimmed.empty() &&
             (is_ascii_alnum(trimmed[0]) || trimmed[0] == '_' || trimmed[0] == '-');
  }
  return false;
}

std::optional<std::string> Scheme::env_name(std::string_view content) const {
  if (content.empty()) return std::nullopt;
  switch (kind_) {
    case Kind::pixi_toml:
      for (std::string_view line : split_lines(content)) {
        std::string_view trimmed = py_strip(line);
        if (!is_name_line(trimmed)) continue;
        std::string_view value = toml_line_value(trimmed);
        if (!value.empty()) return std::string(value);
      }
      return std::nullopt;
    case Kind::pyproject_toml: {
      // Only "[project]" opens the section; other "[project..." headers leave the state as it
      // was, every other header closes it.
      bool in_project = false;
      for (std::string_view line : split_lines(content)) {
        std::string_view trimmed = py_strip(line);
        if (trimmed == "[project]") {
          in_project = true;
          continue;
        }
        if (trimmed.starts_with("[") && !trimmed.starts_with("[project")) in_project = false;
        if (!in_project || !is_name_line(trimmed)) continue;
        std::string_view value = toml_line_value(trimmed);
        if (!value.empty()) return std::string(value);
      }
      return std::nullopt;
    }
    case Kind::environment_yml:
      for (std::string_view line : split_lines(content)) {
        std::string_view trimmed = py_strip(line);
        if (!trimmed.starts_with("name:")) continue;
        std::string value;
        for (char c : py_strip(trimmed.substr(5))) {
          if (c != '"') value += c;
        }
        if (!value.empty()) return value;
      }
      return std::nullopt;
    case Kind::requirements_txt:
      return std::nullopt;
  }
  return std::nullopt;
}

void Scheme::validate(std::string_view content, std::string_view file) const {
  try {
    switch (kind_) {
      case Kind::pyproject_toml:
        return validate_pyproject_toml(*this, content);
      case Kind::pixi_toml:
        return validate_pixi_toml(*this, content);
      case Kind::environment_yml:
        return validate_environment_yml(*this, content);
      case Kind::requirements_txt:
        return validate_requirements_txt(*this, content);
    }
  } catch (const ConfigError& e) {
    if (file.empty() || file == kNoFile) throw;
    throw in_file(e, *this, file);
  }
}

// ---------------------------------------------------------------------------------------------
// Whether a configuration installs the appose package its Python worker imports.

namespace detail {

namespace {

/// What one configuration says about Python and appose, gathered from wherever the file format
/// lists packages.
struct PythonPackages {
  bool python = false;  ///< installs a Python interpreter or Python packages
  bool appose = false;  ///< names the appose package
  /// Lists packages where Appose cannot see them (`-r other.txt`, a path or URL): appose may be
  /// among them, so nothing is refused.
  bool opaque = false;

  void conda(std::string_view spec) {
    const std::string name = package_name(spec);
    if (name == "python" || name == "pip") python = true;
    if (name == "appose") appose = true;
  }
  void pypi(std::string_view spec) {
    spec = py_strip(spec);
    if (spec.empty()) return;
    python = true;
    if (spec.front() == '-' || is_path_or_url(spec)) {
      // An option (`-r`, `-e`, `--index-url`...): only the ones that bring in packages hide
      // names; the others install nothing.
      if (spec.front() != '-' || spec.starts_with("-r") || spec.starts_with("--requirement") ||
          spec.starts_with("-e") || spec.starts_with("--editable")) {
        opaque = true;
      }
      return;
    }
    if (package_name(spec) == "appose") appose = true;
  }
};

/// pixi.toml and pyproject.toml: package tables (`[dependencies]`, `[pypi-dependencies]`, and
/// the same under `[tool.pixi]`, `[feature.*]` and `[target.*]`) name a package per key;
/// PEP 621 lists (`dependencies`, `optional-dependencies`, `dependency-groups`) name one per
/// string. Every environment of the file counts: appose in any of them is enough.
void scan_toml(const toml::node& node, std::string_view key, std::string_view parent,
               PythonPackages& found) {
  if (const toml::table* table = node.as_table()) {
    if (key == "dependencies" || key == "pypi-dependencies") {
      for (const auto& [name, value] : *table) {
        (void)value;
        if (key == "pypi-dependencies") {
          found.pypi(name.str());
        } else {
          found.conda(name.str());
        }
      }
      return;
    }
    for (const auto& [name, value] : *table)
      scan_toml(value, name.str(), key, found);
  } else if (const toml::array* array = node.as_array()) {
    if (key != "dependencies" && key != "dev-dependencies" && parent != "optional-dependencies" &&
        parent != "dependency-groups") {
      return;
    }
    for (const toml::node& item : *array) {
      if (const auto* spec = item.as_string()) found.pypi(spec->get());
    }
  }
}

}  // namespace

std::string package_name(std::string_view spec) {
  if (auto pos = spec.find("::"); pos != std::string_view::npos) spec.remove_prefix(pos + 2);
  spec = py_strip(spec);
  std::string name;
  for (char ch : spec) {
    if (std::isalnum(static_cast<unsigned char>(ch)) != 0) {
      name += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    } else if (ch == '-' || ch == '_' || ch == '.') {
      if (name.empty() || name.back() != '-') name += '-';
    } else {
      break;
    }
  }
  while (!name.empty() && name.back() == '-')
    name.pop_back();
  return name;
}

std::optional<std::string> missing_appose(const Scheme& scheme, std::string_view content) {
  PythonPackages found;
  std::string_view add;
  switch (scheme.kind()) {
    case Scheme::Kind::requirements_txt:
      // uv makes a virtual environment, Python included, whatever the file lists.
      found.python = true;
      for (const LogicalLine& line : requirement_lines(content))
        found.pypi(without_comment(line.text));
      add = "the line `appose`";
      break;
    case Scheme::Kind::pyproject_toml:
      // A Python project: uv sync and pixi both give it an interpreter.
      found.python = true;
      scan_toml(parse_toml(scheme, content), "", "", found);
      add = "\"appose\" to `dependencies` under [project], e.g. `dependencies = [\"appose\"]`";
      break;
    case Scheme::Kind::pixi_toml:
      scan_toml(parse_toml(scheme, content), "", "", found);
      add = "`appose = \"*\"` under [dependencies] (conda-forge) or [pypi-dependencies]";
      break;
    case Scheme::Kind::environment_yml: {
      const YAML::Node root = YAML::Load(std::string(content));
      const YAML::Node deps = root.IsMap() ? root["dependencies"] : YAML::Node();
      if (deps && deps.IsSequence()) {
        for (const YAML::Node& item : deps) {
          if (item.IsScalar()) {
            found.conda(item.Scalar());
          } else if (item.IsMap() && item["pip"] && item["pip"].IsSequence()) {
            for (const YAML::Node& pip : item["pip"]) {
              if (pip.IsScalar()) found.pypi(pip.Scalar());
            }
          }
        }
      }
      add = "`- appose` under `dependencies:` (conda-forge), or under its `- pip:` list";
      break;
    }
  }
  if (!found.python || found.appose || found.opaque) return std::nullopt;
  return fmt::format(
      "the {} installs Python but not the appose package, which every Python worker imports "
      "(its services would fail with \"No module named 'appose'\"); add {}",
      scheme.name(), add);
}

}  // namespace detail

}  // namespace appose
