#include "glob.hpp"

#include <string>

namespace util {

namespace {

// Match the set at the start of `pattern` ("[a-z]", "[!0-9]") against `c`. Return the length of
// the set in `pattern`, or 0 when it is unterminated (then '[' is an ordinary character).
std::size_t
match_set(std::string_view pattern, char c, bool& matched)
{
  std::size_t i = 1;
  const bool negate = i < pattern.size() && (pattern[i] == '!' || pattern[i] == '^');
  if (negate) {
    ++i;
  }
  bool any = false;
  bool first = true;
  for (; i < pattern.size() && (first || pattern[i] != ']'); ++i, first = false) {
    if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
      any = any || (pattern[i] <= c && c <= pattern[i + 2]);
      i += 2;
    } else {
      any = any || pattern[i] == c;
    }
  }
  if (i >= pattern.size()) {
    return 0;
  }
  matched = (any != negate) && c != '/';
  return i + 1;
}

bool
match_here(std::string_view pattern, std::string_view text)
{
  while (!pattern.empty()) {
    if (pattern.substr(0, 2) == "**") {
      auto rest = pattern.substr(2);
      // "a/**/b" also matches "a/b": "**/" may stand for no directory at all.
      if (!rest.empty() && rest.front() == '/' && match_here(rest.substr(1), text)) {
        return true;
      }
      for (std::size_t skip = 0; skip <= text.size(); ++skip) {
        if (match_here(rest, text.substr(skip))) {
          return true;
        }
      }
      return false;
    }
    if (pattern.front() == '*') {
      auto rest = pattern.substr(1);
      for (std::size_t skip = 0; skip <= text.size(); ++skip) {
        if (match_here(rest, text.substr(skip))) {
          return true;
        }
        if (skip < text.size() && text[skip] == '/') {
          return false;
        }
      }
      return false;
    }
    if (text.empty()) {
      return false;
    }
    if (pattern.front() == '?') {
      if (text.front() == '/') {
        return false;
      }
      pattern.remove_prefix(1);
      text.remove_prefix(1);
      continue;
    }
    if (pattern.front() == '[') {
      bool matched = false;
      const auto length = match_set(pattern, text.front(), matched);
      if (length != 0) {
        if (!matched) {
          return false;
        }
        pattern.remove_prefix(length);
        text.remove_prefix(1);
        continue;
      }
    }
    if (pattern.front() == '\\' && pattern.size() > 1) {
      pattern.remove_prefix(1);
    }
    if (pattern.front() != text.front()) {
      return false;
    }
    pattern.remove_prefix(1);
    text.remove_prefix(1);
  }
  return text.empty();
}

} // namespace

bool
glob_match(std::string_view pattern, std::string_view path)
{
  const bool anchored = pattern.find('/') != std::string_view::npos;
  // Try the path itself and each directory above it: a pattern naming a directory covers all
  // that lies under it.
  for (std::size_t end = path.size();;) {
    const auto candidate = path.substr(0, end);
    if (anchored) {
      if (match_here(pattern, candidate)) {
        return true;
      }
    } else {
      const auto slash = candidate.rfind('/');
      const auto last = slash == std::string_view::npos ? candidate : candidate.substr(slash + 1);
      if (match_here(pattern, last)) {
        return true;
      }
    }
    const auto slash = candidate.rfind('/');
    if (slash == std::string_view::npos) {
      return false;
    }
    end = slash;
  }
}

bool
glob_match_any(const std::vector<std::string>& patterns, std::string_view path)
{
  for (const auto& pattern : patterns) {
    if (glob_match(pattern, path)) {
      return true;
    }
  }
  return false;
}

} // namespace util
