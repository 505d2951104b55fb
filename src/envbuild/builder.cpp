// The public builder API: the Builder's setters and the typed builders' factories. The work
// is elsewhere: the configuration (builder_config), its checks (validate), the build flow
// (build_flow) and the tools' back-ends (*_backend).

#include "appose/builder.hpp"

#include "appose/error.hpp"
#include "envbuild/build_flow.hpp"
#include "envbuild/builder_config.hpp"
#include "envbuild/config_source.hpp"
#include "envbuild/env_dir.hpp"
#include "envbuild/fingerprint.hpp"
#include "util/fs_util.hpp"
#include "util/read_file.hpp"

namespace fs = std::filesystem;

namespace appose {

Builder::Builder(std::string env_type) : cfg_(std::make_unique<detail::BuilderConfig>()) {
  cfg_->type = std::move(env_type);
}
Builder::Builder(const Builder& other)
    : cfg_(std::make_unique<detail::BuilderConfig>(*other.cfg_)) {}
Builder::Builder(Builder&& other) noexcept = default;
Builder& Builder::operator=(const Builder& other) {
  if (this != &other) cfg_ = std::make_unique<detail::BuilderConfig>(*other.cfg_);
  return *this;
}
Builder& Builder::operator=(Builder&& other) noexcept = default;
Builder::~Builder() = default;

std::string Builder::env_type() const {
  try {
    return detail::resolve_type(*cfg_);
  } catch (const Error&) {
    return cfg_->type;
  }
}

Environment Builder::build() {
  return detail::build(*cfg_);
}

Environment Builder::build(const std::string& name_or_path) {
  if (name_or_path.find('/') != std::string::npos) {
    cfg_->base = fs::path(name_or_path);
  } else {
    cfg_->name = name_or_path;
    cfg_->base.reset();
  }
  return build();
}

Environment Builder::rebuild() {
  remove();
  return build();
}

void Builder::remove() {
  detail::remove(*cfg_);
}

void Builder::cancel() const noexcept {
  cfg_->cancel->cancel();
}

fs::path Builder::env_dir() const {
  return detail::resolve_dir(detail::concrete(*cfg_));
}

std::string Builder::fingerprint() const {
  return detail::fingerprint_of(detail::concrete(*cfg_));
}

bool Builder::is_up_to_date() const {
  return detail::has_fingerprint(env_dir(), fingerprint());
}

void Builder::set_name(std::string name) {
  cfg_->name = std::move(name);
}
void Builder::set_base(fs::path dir) {
  cfg_->base = std::move(dir);
}
void Builder::set_content(std::string content) {
  cfg_->content = std::move(content);
  cfg_->source_scheme.reset();
  cfg_->content_origin = "<content>";
}
void Builder::set_file(const fs::path& path) {
  cfg_->content = detail::read_text_file(path);
  cfg_->source_scheme = detail::scheme_from_file_name(detail::utf8_string(path.filename()));
  cfg_->content_origin = detail::utf8_string(path);
}
void Builder::set_url(const std::string& url) {
  cfg_->content = detail::fetch_configuration(url, cfg_->cancel.get());
  cfg_->source_scheme = detail::scheme_from_file_name(detail::url_file_name(url));
  cfg_->content_origin = url;
}
void Builder::set_scheme(std::string_view name) {
  cfg_->scheme = Scheme::from_name(name);
}
void Builder::add_channels(std::vector<std::string> channels) {
  cfg_->channels.insert(cfg_->channels.end(), channels.begin(), channels.end());
}
void Builder::add_flags(std::vector<std::string> flags) {
  cfg_->flags.insert(cfg_->flags.end(), flags.begin(), flags.end());
}
void Builder::add_env(const std::map<std::string, std::string>& vars) {
  for (const auto& [k, v] : vars)
    cfg_->env_vars[k] = v;
}
void Builder::set_executable(fs::path path) {
  cfg_->executable = std::move(path);
}
void Builder::add_progress(ProgressCallback callback) {
  if (callback) cfg_->progress.push_back(std::move(callback));
}
void Builder::add_output(LineCallback callback) {
  if (callback) cfg_->output.push_back(std::move(callback));
}
void Builder::add_error(LineCallback callback) {
  if (callback) cfg_->error.push_back(std::move(callback));
}
void Builder::add_conda(std::vector<std::string> packages) {
  cfg_->conda.insert(cfg_->conda.end(), packages.begin(), packages.end());
}
void Builder::add_pypi(std::vector<std::string> packages) {
  cfg_->pypi.insert(cfg_->pypi.end(), packages.begin(), packages.end());
}
void Builder::set_pixi_environment(std::string name) {
  cfg_->pixi_environment = std::move(name);
}
void Builder::set_python(std::string version) {
  cfg_->python = std::move(version);
}
void Builder::add_packages(std::vector<std::string> packages) {
  cfg_->packages.insert(cfg_->packages.end(), packages.begin(), packages.end());
}
void Builder::set_dynamic_type(std::string env_type) {
  cfg_->dynamic_type = std::move(env_type);
}

namespace {

/// A typed builder reading `source`: fetched when it is a URL (as appose-python decides), read
/// from disk otherwise.
template <class B>
B from_source(B builder, const fs::path& source) {
  if (detail::is_url(detail::utf8_string(source))) {
    builder.url(detail::utf8_string(source));
  } else {
    builder.file(source);
  }
  return builder;
}

}  // namespace

PixiBuilder pixi() {
  return PixiBuilder();
}
PixiBuilder pixi(const fs::path& source) {
  return from_source(PixiBuilder(), source);
}
MambaBuilder mamba() {
  return MambaBuilder();
}
MambaBuilder mamba(const fs::path& source) {
  return from_source(MambaBuilder(), source);
}
UvBuilder uv() {
  return UvBuilder();
}
UvBuilder uv(const fs::path& source) {
  return from_source(UvBuilder(), source);
}
DynamicBuilder file(const fs::path& path) {
  return from_source(DynamicBuilder(), path);
}
DynamicBuilder url(const std::string& address) {
  return std::move(DynamicBuilder().url(address));
}
DynamicBuilder content(std::string text) {
  return std::move(DynamicBuilder().content(std::move(text)));
}

}  // namespace appose
