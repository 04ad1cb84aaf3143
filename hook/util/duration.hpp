// Durations as written in configuration and on the command line: "250ms", "10s", "2m", "1h30m".
#pragma once

#include <hook/util/result.hpp>

#include <chrono>
#include <string>
#include <string_view>

namespace util {

using Clock = std::chrono::steady_clock;

// --- Interface ---

// Parse `text` ("250ms", "10s", "1m30s"; units ms, s, m, h) into milliseconds.
// A bare number, an unknown unit or an empty string is an Errc::config error.
Result<std::chrono::milliseconds> parse_duration(std::string_view text);

// Format `duration` the way parse_duration reads it: "1m30s", "250ms", "0s".
std::string format_duration(std::chrono::milliseconds duration);

// Return how long is left until `deadline`, never negative.
std::chrono::milliseconds time_left(Clock::time_point deadline);

} // namespace util
