// Durations as written in configuration and on the command line: "250ms", "10s", "2m", "1h30m".
#pragma once

#include <hook/util/result.hpp>

#include <chrono>
#include <string>
#include <string_view>

namespace util {

using Clock = std::chrono::steady_clock;

// --- Interface ---

// The longest duration parse_duration accepts (about 11 years): far below what a
// Clock::time_point can add without overflowing, however long the host has been up.
inline constexpr std::chrono::milliseconds k_max_duration = std::chrono::hours(100'000);

// Parse `text` ("250ms", "10s", "1m30s"; units ms, s, m, h) into milliseconds.
// A bare number, an unknown unit, an empty string or more than k_max_duration is an
// Errc::config error.
Result<std::chrono::milliseconds> parse_duration(std::string_view text);

// Format `duration` the way parse_duration reads it: "1m30s", "250ms", "0s".
std::string format_duration(std::chrono::milliseconds duration);

// Return how long is left until `deadline`, never negative.
std::chrono::milliseconds time_left(Clock::time_point deadline);

// Return `start` + `duration` (a negative `duration` counts as 0), or the clock's last time point
// when the sum would overflow it.
Clock::time_point time_after(Clock::time_point start, std::chrono::milliseconds duration);

} // namespace util
