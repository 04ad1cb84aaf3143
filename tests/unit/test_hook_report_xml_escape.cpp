#include "testutil.hpp"

#include <hook/report/xml_escape.hpp>

using hook::report::xml_escape;
using hook::report::XmlPosition;

namespace {

const std::string k_fffd = "\xEF\xBF\xBD";

} // namespace

TEST_CASE("hook::report::xml_escape: escapes the five special characters", "[report]")
{
  CHECK(xml_escape(R"(a & b < c > d "e" 'f')")
        == "a &amp; b &lt; c &gt; d &quot;e&quot; &apos;f&apos;");
  CHECK(xml_escape("&amp;") == "&amp;amp;");
  CHECK(xml_escape("]]>") == "]]&gt;");
  CHECK(xml_escape("") == "");
  CHECK(xml_escape("plain text") == "plain text");
}

TEST_CASE("hook::report::xml_escape: keeps tab and newlines in text, references them in attributes",
          "[report]")
{
  CHECK(xml_escape("a\tb\nc\rd") == "a\tb\nc\rd");
  CHECK(xml_escape("a\tb\nc\rd", XmlPosition::attribute) == "a&#9;b&#10;c&#13;d");
  CHECK(xml_escape("<\"x\">", XmlPosition::attribute) == "&lt;&quot;x&quot;&gt;");
}

TEST_CASE("hook::report::xml_escape: replaces characters XML 1.0 forbids with U+FFFD", "[report]")
{
  CHECK(xml_escape(std::string("a\0b", 3)) == "a" + k_fffd + "b");
  CHECK(xml_escape("\x01\x08\x0B\x0C\x1B\x1F")
        == k_fffd + k_fffd + k_fffd + k_fffd + k_fffd + k_fffd);
  CHECK(xml_escape("\xEF\xBF\xBE") == k_fffd); // U+FFFE
  CHECK(xml_escape("\xEF\xBF\xBF") == k_fffd); // U+FFFF
  // Allowed, if discouraged: DEL, C1 controls, U+FFFD itself, astral characters.
  CHECK(xml_escape("\x7F") == "\x7F");
  CHECK(xml_escape("\xC2\x85") == "\xC2\x85");
  CHECK(xml_escape(k_fffd) == k_fffd);
  CHECK(xml_escape("\xF0\x9F\x9A\x80") == "\xF0\x9F\x9A\x80");
}

TEST_CASE("hook::report::xml_escape: passes non-ASCII through and replaces invalid UTF-8",
          "[report]")
{
  CHECK(xml_escape("café ✓ 日本") == "café ✓ 日本");
  CHECK(xml_escape("a\xFF"
                   "b")
        == "a" + k_fffd + "b");
  CHECK(xml_escape("\xC3(") == k_fffd + "(");                    // truncated 2-byte sequence
  CHECK(xml_escape("\xC0\xAF") == k_fffd + k_fffd);              // overlong '/'
  CHECK(xml_escape("\xED\xA0\x80") == k_fffd + k_fffd + k_fffd); // surrogate U+D800
  CHECK(xml_escape("\xF4\x90\x80\x80") == k_fffd + k_fffd + k_fffd + k_fffd); // > U+10FFFF
  CHECK(xml_escape("\xE2\x9C") == k_fffd);           // truncated at the end of the text
  CHECK(xml_escape("\xE2\x9C<") == k_fffd + "&lt;"); // the byte after a bad sequence survives
}
