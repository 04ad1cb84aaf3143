#include "text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace util {

namespace {

// Length of the UTF-8 sequence starting at `text[at]`, or 0 if it is not valid UTF-8.
std::size_t
utf8_sequence_length(std::string_view text, std::size_t at)
{
  const auto lead = static_cast<unsigned char>(text[at]);
  std::size_t length = 0;
  unsigned minimum = 0;
  unsigned value = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    minimum = 0x80;
    value = lead & 0x1FU;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    minimum = 0x800;
    value = lead & 0x0FU;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    minimum = 0x10000;
    value = lead & 0x07U;
  } else {
    return 0;
  }
  if (at + length > text.size()) {
    return 0;
  }
  for (std::size_t i = 1; i < length; ++i) {
    const auto next = static_cast<unsigned char>(text[at + i]);
    if ((next & 0xC0U) != 0x80U) {
      return 0;
    }
    value = (value << 6U) | (next & 0x3FU);
  }
  if (value < minimum || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) {
    return 0;
  }
  return length;
}

} // namespace

std::string
to_lower(std::string_view text)
{
  std::string lowered(text);
  std::transform(lowered.begin(), lowered.end(), lowered.begin(), [](unsigned char c) {
    return static_cast<char>(std::tolower(c));
  });
  return lowered;
}

std::string
printable_excerpt(std::string_view text, bool truncated, std::size_t limit)
{
  if (text.empty()) {
    return truncated ? "..." : "(empty)";
  }
  std::string shown;
  std::size_t at = 0;
  while (at < text.size() && at < limit) {
    const auto byte = static_cast<unsigned char>(text[at]);
    if (byte >= 0x80) {
      const auto length = utf8_sequence_length(text, at);
      if (length != 0 && at + length <= limit) {
        shown.append(text, at, length);
        at += length;
        continue;
      }
      if (length != 0) {
        break; // a character that would cross the limit is left out whole
      }
      shown += fmt::format("\\x{:02x}", byte);
    } else if (byte == '\n') {
      shown += "\\n";
    } else if (byte == '\t') {
      shown += "\\t";
    } else if (byte == '\r') {
      shown += "\\r";
    } else if (byte == '\\') {
      shown += "\\\\";
    } else if (byte < 0x20 || byte == 0x7f) {
      shown += fmt::format("\\x{:02x}", byte);
    } else {
      shown += static_cast<char>(byte);
    }
    ++at;
  }
  if (at < text.size() || truncated) {
    shown += "...";
  }
  return shown;
}

} // namespace util
