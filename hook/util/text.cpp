#include "text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace util {

namespace {

constexpr char32_t k_replacement = 0xFFFD;

bool
is_continuation(unsigned char byte, unsigned char low = 0x80, unsigned char high = 0xBF)
{
  return byte >= low && byte <= high;
}

} // namespace

CodePoint
decode_utf8(std::string_view text)
{
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  if (lead < 0x80) {
    return {lead, 1, true};
  }
  // Table 3-7 of the Unicode standard: the lead byte fixes the length and the range of the
  // second byte, which is what rules out overlong forms, surrogates and values past U+10FFFF.
  std::size_t length = 0;
  unsigned char second_low = 0x80;
  unsigned char second_high = 0xBF;
  char32_t value = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    value = lead & 0x1Fu;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    value = lead & 0x0Fu;
    if (lead == 0xE0) {
      second_low = 0xA0;
    } else if (lead == 0xED) {
      second_high = 0x9F;
    }
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    value = lead & 0x07u;
    if (lead == 0xF0) {
      second_low = 0x90;
    } else if (lead == 0xF4) {
      second_high = 0x8F;
    }
  } else {
    return {k_replacement, 1, false};
  }
  for (std::size_t i = 1; i < length; ++i) {
    const bool ok =
      i < text.size()
      && (i == 1 ? is_continuation(byte(i), second_low, second_high) : is_continuation(byte(i)));
    if (!ok) {
      return {k_replacement, i, false};
    }
    value = (value << 6) | (byte(i) & 0x3Fu);
  }
  return {value, length, true};
}

void
append_utf8(std::string& out, char32_t code_point)
{
  const auto put = [&](char32_t bits) { out.push_back(static_cast<char>(bits)); };
  if (code_point < 0x80) {
    put(code_point);
  } else if (code_point < 0x800) {
    put(0xC0 | (code_point >> 6));
    put(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    put(0xE0 | (code_point >> 12));
    put(0x80 | ((code_point >> 6) & 0x3F));
    put(0x80 | (code_point & 0x3F));
  } else {
    put(0xF0 | (code_point >> 18));
    put(0x80 | ((code_point >> 12) & 0x3F));
    put(0x80 | ((code_point >> 6) & 0x3F));
    put(0x80 | (code_point & 0x3F));
  }
}

std::string
valid_utf8(std::string_view text)
{
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    const auto cp = decode_utf8(text);
    if (cp.valid) {
      out.append(text.substr(0, cp.length));
    } else {
      append_utf8(out, k_replacement);
    }
    text.remove_prefix(cp.length);
  }
  return out;
}

int
hex_digit(char c)
{
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

std::string
to_lower(std::string_view text)
{
  std::string lowered(text);
  std::transform(lowered.begin(), lowered.end(), lowered.begin(), [](unsigned char c) {
    return static_cast<char>(std::tolower(c));
  });
  return lowered;
}

bool
is_control_or_invisible(char32_t cp)
{
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) // C0, DEL, C1
         || cp == 0x061C                         // Arabic letter mark
         || (cp >= 0x200B && cp <= 0x200F)       // zero-width space .. right-to-left mark
         || (cp >= 0x2028 && cp <= 0x202E)       // line/paragraph separators, bidi embeddings
         || (cp >= 0x2060 && cp <= 0x206F)       // word joiner, bidi isolates, deprecated
         || cp == 0xFEFF                         // byte order mark
         || (cp >= 0xFFF9 && cp <= 0xFFFB)       // interlinear annotations
         || cp == 0xFFFE || cp == 0xFFFF;
}

namespace {

// Append the printable form of the code point `cp` (read as the bytes `original`) to `out`.
void
append_printable(
  std::string& out, const CodePoint& cp, std::string_view original, bool backslashes, bool quotes)
{
  if (!cp.valid) {
    for (const char byte : original) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(byte));
    }
    return;
  }
  switch (cp.value) {
  case '\n':
    out += "\\n";
    return;
  case '\t':
    out += "\\t";
    return;
  case '\r':
    out += "\\r";
    return;
  case '\\':
    out += backslashes ? "\\\\" : "\\";
    return;
  case '"':
    out += quotes ? "\\\"" : "\"";
    return;
  default:
    break;
  }
  if (cp.value < 0x80 && is_control_or_invisible(cp.value)) {
    out += fmt::format("\\x{:02x}", static_cast<unsigned>(cp.value));
  } else if (is_control_or_invisible(cp.value)) {
    out += fmt::format("\\u{:04x}", static_cast<unsigned>(cp.value));
  } else {
    out += original;
  }
}

} // namespace

std::string
printable(std::string_view text, Quotes quotes)
{
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    const auto cp = decode_utf8(text);
    const bool quoted = quotes == Quotes::escape;
    append_printable(out, cp, text.substr(0, cp.length), quoted, quoted);
    text.remove_prefix(cp.length);
  }
  return out;
}

std::string
printable_excerpt(std::string_view text, bool truncated, std::size_t limit)
{
  if (text.empty()) {
    return truncated ? "..." : "(empty)";
  }
  std::string shown;
  std::size_t at = 0;
  while (at < text.size()) {
    const auto cp = decode_utf8(text.substr(at));
    if (at + cp.length > limit) {
      break; // a character that would cross the limit is left out whole
    }
    append_printable(shown, cp, text.substr(at, cp.length), true, false);
    at += cp.length;
  }
  if (at < text.size() || truncated) {
    shown += "...";
  }
  return shown;
}

} // namespace util
