// The one XML escaping function every JUnit string goes through.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace hook::report {

// --- Interface ---

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
