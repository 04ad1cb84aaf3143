// Text hygiene shared by the report formats: UTF-8 decoding that never fails, and the one XML
// escaping function every JUnit string goes through.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace hook::report {

// --- Interface ---

struct CodePoint
{
  char32_t value;     // U+FFFD when the bytes were not valid UTF-8
  std::size_t length; // bytes consumed, at least 1
  bool valid;         // false when the bytes were not valid UTF-8
};

// Decode the code point at the start of non-empty `text`. An ill-formed sequence yields U+FFFD
// and consumes its maximal subpart (Unicode's recommended practice), so that one bad byte never
// swallows the valid text after it. Overlong forms and surrogates are ill-formed.
CodePoint decode_utf8(std::string_view text);

// Append the UTF-8 encoding of `code_point` to `out`.
void append_utf8(std::string& out, char32_t code_point);

// Return `text` with each ill-formed UTF-8 sequence replaced by U+FFFD.
std::string valid_utf8(std::string_view text);

enum class XmlPosition {
  text,      // element content: tab, newline and carriage return stay as they are
  attribute, // attribute value: tab, newline and carriage return become character references,
             // since attribute-value normalisation would turn them into spaces
};

// Return `text` escaped for XML 1.0 at `where`: & < > " ' become entities; the characters
// XML 1.0 forbids (C0 controls other than tab, newline and carriage return; U+FFFE; U+FFFF)
// and ill-formed UTF-8 become U+FFFD, so the document stays well-formed and the reader still
// sees that something was there.
std::string xml_escape(std::string_view text, XmlPosition where = XmlPosition::text);

} // namespace hook::report
