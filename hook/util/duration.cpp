#include "duration.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <limits>

namespace util {

namespace {

struct Unit
{
  std::string_view suffix;
  std::int64_t milliseconds;
};

// Longest suffix first so "ms" is not read as "m".
constexpr Unit k_units[] = {{"ms", 1}, {"h", 3'600'000}, {"m", 60'000}, {"s", 1'000}};

} // namespace

Result<std::chrono::milliseconds>
parse_duration(std::string_view text)
{
  const auto bad = [&](std::string_view why) {
    return make_error(Errc::config,
                      fmt::format("invalid duration \"{}\": {} (expected a number with a unit: "
                                  "ms, s, m or h, such as \"500ms\", \"10s\" or \"1m30s\")",
                                  text,
                                  why));
  };
  if (text.empty()) {
    return bad("empty");
  }
  std::int64_t total = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    if (text[pos] < '0' || text[pos] > '9') {
      return bad("expected a digit");
    }
    std::int64_t number = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (number > std::numeric_limits<std::int64_t>::max() / 10 - 10) {
        return bad("too large");
      }
      number = number * 10 + (text[pos] - '0');
      ++pos;
    }
    const Unit* unit = nullptr;
    for (const auto& candidate : k_units) {
      if (text.substr(pos, candidate.suffix.size()) == candidate.suffix) {
        unit = &candidate;
        break;
      }
    }
    if (unit == nullptr) {
      return bad(pos == text.size() ? "missing unit" : "unknown unit");
    }
    pos += unit->suffix.size();
    if (number > std::numeric_limits<std::int64_t>::max() / unit->milliseconds - total) {
      return bad("too large");
    }
    total += number * unit->milliseconds;
  }
  if (total > k_max_duration.count()) {
    return bad(fmt::format("too large (at most {})", format_duration(k_max_duration)));
  }
  return std::chrono::milliseconds(total);
}

std::string
format_duration(std::chrono::milliseconds duration)
{
  auto ms = duration.count();
  if (ms == 0) {
    return "0s";
  }
  std::string out;
  if (ms < 0) {
    out += '-';
    ms = -ms;
  }
  const auto hours = ms / 3'600'000;
  const auto minutes = ms % 3'600'000 / 60'000;
  const auto seconds = ms % 60'000 / 1'000;
  const auto rest = ms % 1'000;
  if (hours != 0) {
    out += fmt::format("{}h", hours);
  }
  if (minutes != 0) {
    out += fmt::format("{}m", minutes);
  }
  if (seconds != 0) {
    out += fmt::format("{}s", seconds);
  }
  if (rest != 0) {
    out += fmt::format("{}ms", rest);
  }
  return out;
}

std::chrono::milliseconds
time_left(Clock::time_point deadline)
{
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? left : std::chrono::milliseconds(0);
}

Clock::time_point
time_after(Clock::time_point start, std::chrono::milliseconds duration)
{
  using std::chrono::milliseconds;
  if (duration.count() <= 0) {
    return start;
  }
  const auto last = std::chrono::duration_cast<milliseconds>(Clock::duration::max());
  const auto used =
    std::max(std::chrono::duration_cast<milliseconds>(start.time_since_epoch()), milliseconds(0));
  if (duration >= last - used) {
    return Clock::time_point::max();
  }
  return start + duration;
}

} // namespace util
