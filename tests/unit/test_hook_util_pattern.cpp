#include "testutil.hpp"

#include <hook/util/pattern.hpp>

TEST_CASE("util::compile_pattern: an invalid pattern is a config error saying why", "[pattern]")
{
  const auto bad = util::compile_pattern("v(1");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == util::Errc::config);
  CHECK(bad.error().message == "invalid regular expression \"v(1\": unmatched parenthesis");
  const auto good = util::compile_pattern("v[0-9]+");
  REQUIRE(good);
  CHECK(good->text == "v[0-9]+");
}

TEST_CASE("util::search_pattern: '^' and '$' anchor the whole text unless (?m) asks", "[pattern]")
{
  const auto whole = *util::compile_pattern("^ok$");
  CHECK(util::search_pattern(whole, "ok") == true);
  CHECK(util::search_pattern(whole, "error\nok\n") == false);
  const auto lines = *util::compile_pattern("(?m)^ok$");
  CHECK(util::search_pattern(lines, "error\nok\n") == true);
  CHECK(util::search_pattern(*util::compile_pattern("^$"), "oops\n") == false);
}

TEST_CASE("util::search_pattern: a search too costly for the text gives up instead of hanging",
          "[pattern]")
{
  const auto costly = *util::compile_pattern("(a|b)*c");
  CHECK_FALSE(util::search_pattern(costly, std::string(64 * 1024, 'a')).has_value());
}
