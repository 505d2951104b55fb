// libFuzzer target: the scheme parsers (include/appose/scheme.hpp; docs/fuzzing.md). A build
// is handed a configuration file of any content, so recognising it (from_content,
// supports_content), naming it (env_name) and validating it with toml++ / yaml-cpp must fail
// only with the library's BuildException, naming the scheme first; an exception of the parsers
// leaking through, a crash or a leak would take a build down without saying which file is bad.

#include <appose/error.hpp>
#include <appose/scheme.hpp>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"

using appose::BuildException;
using appose::Scheme;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view content(reinterpret_cast<const char*>(data), size);

  std::optional<Scheme> detected;
  try {
    detected = Scheme::from_content(content);
  } catch (const BuildException&) {
  } catch (const std::exception& e) {
    APPOSE_FUZZ_UNEXPECTED("Scheme::from_content", e);
  }

  bool first = true;
  for (const Scheme& scheme : Scheme::all()) {
    bool supports = false;
    std::optional<std::string> name;
    try {
      supports = scheme.supports_content(content);
      name = scheme.env_name(content);
    } catch (const std::exception& e) {
      APPOSE_FUZZ_UNEXPECTED("supports_content / env_name", e);
    }
    // from_content is documented as the first scheme, in detection order, that supports it.
    if (supports && first) {
      APPOSE_FUZZ_CHECK(detected == scheme,
                        "from_content did not pick the first supporting scheme");
      first = false;
    }
    // An empty name means "keep looking" to appose-python, so one is never returned.
    if (name) APPOSE_FUZZ_CHECK(!name->empty(), "env_name returned an empty name");
    if (scheme == Scheme::requirements_txt())
      APPOSE_FUZZ_CHECK(!name, "requirements.txt gave a name");

    try {
      scheme.validate(content);
    } catch (const BuildException& e) {
      APPOSE_FUZZ_CHECK(std::string_view(e.what()).starts_with(scheme.name()),
                        "a validation error does not start with the scheme's name");
    } catch (const std::exception& e) {
      APPOSE_FUZZ_UNEXPECTED("Scheme::validate", e);
    }
  }
  if (first)
    APPOSE_FUZZ_CHECK(!detected, "from_content picked a scheme that does not support the content");
  return 0;
}
