#include "xml_escape.hpp"

#include <hook/util/text.hpp>

namespace hook::report {

namespace {

constexpr char32_t k_replacement = 0xFFFD;

} // namespace

std::string
xml_escape(std::string_view text, XmlPosition where)
{
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  while (!text.empty()) {
    const auto cp = util::decode_utf8(text);
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
      util::append_utf8(out, k_replacement);
    } else {
      out += original;
    }
  }
  return out;
}

} // namespace hook::report
