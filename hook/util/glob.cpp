#include "glob.hpp"

#include <string>
#include <vector>

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

// Matches a pattern against a text. Each star tries every split of the text; remembering which
// (pattern, text) suffixes failed keeps that polynomial: without it "*a*a*a*a*a*a*a*a*b" against
// a long name of a's takes seconds, and a walk (or `manifest create`, which has no deadline)
// would hang on one glob.
class Matcher
{
public:
  Matcher(std::string_view pattern, std::string_view text)
      : m_pattern(pattern),
        m_text(text)
  {}

  bool
  matches()
  {
    return match_here(m_pattern, m_text);
  }

private:
  // Return whether `pattern` matches `text`, suffixes of m_pattern and m_text.
  bool
  match_suffix(std::string_view pattern, std::string_view text)
  {
    const auto p = m_pattern.size() - pattern.size();
    const auto t = m_text.size() - text.size();
    if (m_failed.empty()) {
      m_failed.assign((m_pattern.size() + 1) * (m_text.size() + 1), false);
    }
    auto&& failed = m_failed[p * (m_text.size() + 1) + t];
    if (failed) {
      return false;
    }
    const bool matched = match_here(pattern, text);
    failed = !matched;
    return matched;
  }

  bool
  match_here(std::string_view pattern, std::string_view text)
  {
    while (!pattern.empty()) {
      if (pattern.substr(0, 2) == "**") {
        auto rest = pattern.substr(2);
        // "a/**/b" also matches "a/b": "**/" may stand for no directory at all.
        if (!rest.empty() && rest.front() == '/' && match_suffix(rest.substr(1), text)) {
          return true;
        }
        for (std::size_t skip = 0; skip <= text.size(); ++skip) {
          if (match_suffix(rest, text.substr(skip))) {
            return true;
          }
        }
        return false;
      }
      if (pattern.front() == '*') {
        auto rest = pattern.substr(1);
        for (std::size_t skip = 0; skip <= text.size(); ++skip) {
          if (match_suffix(rest, text.substr(skip))) {
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

  std::string_view m_pattern;
  std::string_view m_text;
  std::vector<bool> m_failed; // by (pattern offset, text offset); allocated at the first star
};

bool
match_here(std::string_view pattern, std::string_view text)
{
  return Matcher(pattern, text).matches();
}

} // namespace

bool
glob_match(std::string_view pattern, std::string_view path)
{
  // "var/cache/" is written to mean the directory: match it as "var/cache", which covers all
  // under it.
  while (pattern.size() > 1 && pattern.back() == '/') {
    pattern.remove_suffix(1);
  }
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
