#include "testutil.hpp"

#include <hook/util/duration.hpp>

using namespace std::chrono_literals;

TEST_CASE("util::parse_duration: units and combinations", "[duration]")
{
  CHECK(*util::parse_duration("250ms") == 250ms);
  CHECK(*util::parse_duration("10s") == 10s);
  CHECK(*util::parse_duration("2m") == 2min);
  CHECK(*util::parse_duration("1h") == 1h);
  CHECK(*util::parse_duration("1m30s") == 90s);
  CHECK(*util::parse_duration("1h2m3s4ms") == 1h + 2min + 3s + 4ms);
  CHECK(*util::parse_duration("0s") == 0ms);
}

TEST_CASE("util::parse_duration: rejects what has no unit or is not a duration", "[duration]")
{
  for (const auto* text : {"", "10", "s", "10x", "1.5s", "-1s", "10 s", "99999999999999999999h"}) {
    INFO(text);
    const auto parsed = util::parse_duration(text);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().code == util::Errc::config);
    CHECK_THAT(parsed.error().message, Catch::Contains("expected a number with a unit"));
  }
  CHECK_THAT(util::parse_duration("10").error().message, Catch::Contains("missing unit"));
}

TEST_CASE("util::format_duration: reads back through parse_duration", "[duration]")
{
  CHECK(util::format_duration(0ms) == "0s");
  CHECK(util::format_duration(90s) == "1m30s");
  CHECK(util::format_duration(1500ms) == "1s500ms");
  CHECK(util::format_duration(2h) == "2h");
  for (const std::chrono::milliseconds value : {1ms, 999ms, 61000ms, 3601007ms}) {
    CHECK(*util::parse_duration(util::format_duration(value)) == value);
  }
}

TEST_CASE("util::time_left: never negative", "[duration]")
{
  CHECK(util::time_left(util::Clock::now() - 5s) == 0ms);
  const auto left = util::time_left(util::Clock::now() + 10s);
  CHECK(left > 9s);
  CHECK(left <= 10s);
}

TEST_CASE("util::parse_duration: a duration too long to add to the clock is rejected", "[duration]")
{
  CHECK(*util::parse_duration("100000h") == util::k_max_duration);
  for (const auto* text : {"100001h", "100000h1ms", "2562047h", "9223372036854775ms"}) {
    INFO(text);
    const auto parsed = util::parse_duration(text);
    REQUIRE_FALSE(parsed);
    CHECK_THAT(parsed.error().message, Catch::Contains("too large (at most 100000h)"));
  }
}

TEST_CASE("util::time_after: saturates instead of overflowing", "[duration]")
{
  const auto now = util::Clock::now();
  CHECK(util::time_after(now, 5s) == now + 5s);
  CHECK(util::time_after(now, 0ms) == now);
  CHECK(util::time_after(now, std::chrono::milliseconds::max()) == util::Clock::time_point::max());
  CHECK(util::time_after(now, util::k_max_duration) == now + util::k_max_duration);
  CHECK(util::time_after(util::Clock::time_point::max(), 250ms) == util::Clock::time_point::max());
}
