#pragma once

// One line of a worker's stdout -> the JSON objects on it. A line may hold several objects
// (the real Python worker glues concurrent responses: `{..}{..}`) and text that is none
// (scripts that print without a newline put text in front of an object); the scanner finds
// the objects and reports the rest, with why it is not a message.

#include <string>
#include <string_view>
#include <vector>

#include "appose/value.hpp"

namespace appose::detail::codec {

/// The result of reading one stdout line.
struct LineContents {
  std::vector<Args> messages;        ///< every JSON object found, in order (plain values)
  std::vector<std::string> invalid;  ///< text between/around them that is not white space
  std::vector<std::string> notes;    ///< explanations for the debug callback (why invalid)
};

/// Splits one line (without its newline) into the JSON objects it holds. Blank or
/// whitespace-only lines yield nothing. Bytes that are not valid UTF-8 inside an object's
/// strings make that object invalid; invalid text is reported with such bytes replaced by
/// U+FFFD, so that invalid() is always valid UTF-8. Never throws for any input bytes.
LineContents split_line(std::string_view line);

}  // namespace appose::detail::codec
