#include "xml_escape.hpp"

namespace hook::report {

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

std::string
xml_escape(std::string_view text, XmlPosition where)
{
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  while (!text.empty()) {
    const auto cp = decode_utf8(text);
    const auto original = text.substr(0, cp.length);
    text.remove_prefix(cp.length);
    switch (cp.value) {
    case '&':
      out += "&amp;";
      continue;
    case '<':
      out += "&lt;";
      continue;
    case '>':
      out += "&gt;";
      continue;
    case '"':
      out += "&quot;";
      continue;
    case '\'':
      out += "&apos;";
      continue;
    case '\t':
    case '\n':
    case '\r':
      if (where == XmlPosition::attribute) {
        out += cp.value == '\t' ? "&#9;" : cp.value == '\n' ? "&#10;" : "&#13;";
      } else {
        out += original;
      }
      continue;
    default:
      break;
    }
    const bool forbidden = !cp.valid || cp.value < 0x20 || cp.value == 0xFFFE || cp.value == 0xFFFF;
    if (forbidden) {
      append_utf8(out, k_replacement);
    } else {
      out += original;
    }
  }
  return out;
}

} // namespace hook::report
