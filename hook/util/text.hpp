// Small text helpers shared by the check kinds.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace util {

// --- Interface ---

// Return `text` with ASCII letters lowercased.
std::string to_lower(std::string_view text);

// Return the first `limit` bytes of `text` readable on one line: control characters, backslashes
// and bytes that are not UTF-8 escaped (\n, \\, \x1b), a character that would cross the limit
// left out whole, "..." appended when something was cut (or `truncated` says the text was
// already cut), "(empty)" for "". Findings show program output and response bodies this way.
std::string printable_excerpt(std::string_view text, bool truncated, std::size_t limit = 200);

} // namespace util
