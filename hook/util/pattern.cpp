#include "pattern.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace util {

namespace {

// Return what a Boost.Regex `code` means, lowercase and short (its what() is a paragraph).
std::string_view
regex_error_text(boost::regex_constants::error_type code)
{
  namespace rc = boost::regex_constants;
  switch (code) {
  case rc::error_collate:
    return "invalid collating element";
  case rc::error_ctype:
    return "invalid character class";
  case rc::error_escape:
    return "invalid escape";
  case rc::error_backref:
    return "invalid back reference";
  case rc::error_brack:
    return "unmatched [";
  case rc::error_paren:
    return "unmatched parenthesis";
  case rc::error_brace:
    return "unmatched {";
  case rc::error_badbrace:
    return "invalid count in {}";
  case rc::error_range:
    return "invalid character range";
  case rc::error_badrepeat:
    return "nothing to repeat";
  case rc::error_complexity:
  case rc::error_stack:
  case rc::error_space:
    return "too complex";
  default:
    return "invalid syntax";
  }
}

} // namespace

Result<Pattern>
compile_pattern(std::string text)
{
  try {
    // no_mod_m: Boost's default lets `^` and `$` match at every line break, so '^$' would pass
    // any output ending in "\n" and '^ok$' would pass "error\nok\n".
    boost::regex regex(text, boost::regex::perl | boost::regex::no_mod_m);
    return Pattern{std::move(text), std::move(regex)};
  } catch (const boost::regex_error& error) {
    return make_error(
      Errc::config,
      fmt::format("invalid regular expression \"{}\": {}", text, regex_error_text(error.code())));
  }
}

std::optional<bool>
search_pattern(const Pattern& pattern, std::string_view subject)
{
  try {
    return boost::regex_search(subject.begin(), subject.end(), pattern.regex);
  } catch (const std::runtime_error&) {
    return std::nullopt; // Boost.Regex gave up: the pattern is too costly for this text
  }
}

} // namespace util
