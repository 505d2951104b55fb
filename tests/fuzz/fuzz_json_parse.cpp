// libFuzzer target: codec::parse, the JSON reader under every protocol line (docs/fuzzing.md).
// Any bytes may reach it from a worker's stdout, so it must reject bad input with ProtocolError
// only, and what it accepts must survive the writer: write -> parse gives the same value back
// and writing that again gives the same text, or the two peers would drift apart message by
// message.

#include <appose/error.hpp>
#include <appose/value.hpp>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>

#include "core/json.hpp"
#include "fuzz_support.hpp"
#include "util/utf8.hpp"

namespace codec = appose::detail::codec;
namespace utf8 = appose::detail::utf8;
using appose::fuzz::same_value;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  appose::Value value;
  try {
    value = codec::parse(text);
  } catch (const appose::ProtocolError&) {
    return 0;
  } catch (const std::exception& e) {
    APPOSE_FUZZ_UNEXPECTED("codec::parse", e);
  }
  // Bytes outside strings are never accepted unless ASCII, and strings are checked, so
  // anything accepted was valid UTF-8 as a whole.
  APPOSE_FUZZ_CHECK(utf8::is_valid(text), "parse accepted invalid UTF-8");

  std::string once;
  appose::Value again;
  try {
    once = codec::write(value);
    again = codec::parse(once);
  } catch (const std::exception& e) {
    APPOSE_FUZZ_UNEXPECTED("write -> parse of a parsed value", e);
  }
  for (char c : once) {
    APPOSE_FUZZ_CHECK(static_cast<unsigned char>(c) < 0x80, "write produced a non-ASCII byte");
  }
  APPOSE_FUZZ_CHECK(same_value(value, again), "write -> parse changed the value");
  APPOSE_FUZZ_CHECK(codec::write(again) == once, "writing the re-parsed value gave different text");
  return 0;
}
