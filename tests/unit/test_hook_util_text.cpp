#include "testutil.hpp"

#include <hook/util/text.hpp>

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
