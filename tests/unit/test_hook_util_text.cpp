#include "testutil.hpp"

#include <hook/util/text.hpp>

using util::decode_utf8;
using util::valid_utf8;

namespace {
const std::string k_fffd = "\xEF\xBF\xBD";
} // namespace

TEST_CASE("util::printable_excerpt: one readable line of at most the limit", "[text]")
{
  CHECK(util::printable_excerpt("", false) == "(empty)");
  CHECK(util::printable_excerpt("a\tb\r\n\\ \x1b[0m", false) == "a\\tb\\r\\n\\\\ \\x1b[0m");
  CHECK(util::printable_excerpt(std::string(300, 'x'), false) == std::string(200, 'x') + "...");
  CHECK(util::printable_excerpt("short", true) == "short...");
  CHECK(util::printable_excerpt("caf\xc3\xa9 \xff", false) == "caf\xc3\xa9 \\xff");
  // A multibyte character that would cross the limit is left out whole.
  CHECK(util::printable_excerpt("ab\xc3\xa9", false, 3) == "ab...");
}

TEST_CASE("util::to_lower: ASCII letters only", "[text]")
{
  CHECK(util::to_lower("Content-Type") == "content-type");
  CHECK(util::to_lower("X-ÄB") == "x-Äb");
  CHECK(util::to_lower("") == "");
}

TEST_CASE("util::decode_utf8: decodes every length and rejects ill-formed sequences", "[text]")
{
  const auto a = decode_utf8("A");
  CHECK((a.value == U'A' && a.length == 1 && a.valid));
  const auto e = decode_utf8("é");
  CHECK((e.value == U'é' && e.length == 2 && e.valid));
  const auto check = decode_utf8("✓");
  CHECK((check.value == U'✓' && check.length == 3 && check.valid));
  const auto rocket = decode_utf8("\xF0\x9F\x9A\x80");
  CHECK((rocket.value == 0x1F680 && rocket.length == 4 && rocket.valid));
  const auto lone = decode_utf8("\x80");
  CHECK((lone.value == 0xFFFD && lone.length == 1 && !lone.valid));
  const auto cut = decode_utf8("\xF0\x9F\x9A"
                               "A");
  CHECK((cut.value == 0xFFFD && cut.length == 3 && !cut.valid));
  const auto overlong = decode_utf8("\xE0\x80\x80");
  CHECK((overlong.length == 1 && !overlong.valid));
}

TEST_CASE("util::valid_utf8: keeps valid text and replaces each bad sequence once", "[text]")
{
  CHECK(valid_utf8("héllo ✓") == "héllo ✓");
  CHECK(valid_utf8("a\xFF\xFE"
                   "b")
        == "a" + k_fffd + k_fffd + "b");
  CHECK(valid_utf8("\xE2\x9C"
                   "x")
        == k_fffd + "x");
  CHECK(valid_utf8(std::string("\0", 1)) == std::string("\0", 1)); // NUL is valid UTF-8
}

TEST_CASE("util::printable: one line a terminal cannot be driven by", "[text]")
{
  // A server's bytes trying to erase the line and print a fake verdict.
  CHECK(util::printable("ok\r\x1b[2K\x1b[32mPASS") == "ok\\r\\x1b[2K\\x1b[32mPASS");
  // Bidirectional overrides and line separators are escaped, not passed to the reader.
  CHECK(util::printable("file\u202Egnp.exe") == "file\\u202egnp.exe");
  CHECK(util::printable("a\u2028b\u2029c") == "a\\u2028b\\u2029c");
  CHECK(util::printable("\u2066x\u2069\u200f\ufeff") == "\\u2066x\\u2069\\u200f\\ufeff");
  CHECK(util::printable("\xc2\x9b") == "\\u009b"); // C1 CSI
  // Ill-formed UTF-8 shows its bytes; ordinary text stays as it is.
  CHECK(util::printable("caf\xc3\xa9 \xff") == "caf\xc3\xa9 \\xff");
  CHECK(util::printable("say \"hi\"", util::Quotes::escape) == "say \\\"hi\\\"");
  CHECK(util::printable("say \"hi\"") == "say \"hi\"");
  CHECK(util::printable("back\\slash") == "back\\slash");
  CHECK(util::printable("back\\slash", util::Quotes::escape) == "back\\\\slash");
}
