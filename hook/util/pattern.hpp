// Regular expressions from the configuration: compiled once at start-up, searched with a bound.
#pragma once

#include <hook/util/result.hpp>

#include <boost/regex.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace util {

// --- Interface ---

struct Pattern
{
  std::string text; // as written, for messages
  // Boost.Regex, not std::regex: libstdc++'s matcher recurses per character and crashes the
  // process (SIGSEGV) on a 64 KiB text even for `a.*z`; Boost's gives up with an exception.
  // Perl syntax without /m: `^` and `$` are the start and end of the whole text.
  boost::regex regex;
};

// Compile `text`. An invalid pattern is Errc::config: invalid regular expression "x": <why>.
Result<Pattern> compile_pattern(std::string text);

// Return whether `pattern` matches somewhere in `subject`, or nullopt when Boost.Regex gave up
// because the search would be too costly (it never runs unbounded).
std::optional<bool> search_pattern(const Pattern& pattern, std::string_view subject);

} // namespace util
