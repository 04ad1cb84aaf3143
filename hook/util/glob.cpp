#include "glob.hpp"

#include <array>
#include <cstdint>
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

// A glob compiled to the states of a nondeterministic automaton, one per token, run over the
// text once with the set of live states. Matching costs pattern length × text length at worst,
// whatever the stars: backtracking over every split of the text was exponential (and with a
// memo, quadratic in the text per call, cubic over a deep tree's ancestors).
class Automaton
{
public:
  explicit Automaton(std::string_view pattern)
  {
    while (!pattern.empty()) {
      Token token;
      if (pattern.substr(0, 2) == "**") {
        token.kind = Kind::any_path;
        pattern.remove_prefix(2);
      } else if (pattern.front() == '*') {
        token.kind = Kind::any_name;
        pattern.remove_prefix(1);
      } else if (pattern.front() == '?') {
        token.kind = Kind::one;
        pattern.remove_prefix(1);
      } else if (bool unused = false;
                 pattern.front() == '[' && match_set(pattern, 'a', unused) != 0) {
        token.kind = Kind::set;
        const auto length = match_set(pattern, 'a', unused);
        for (int c = 0; c < 256; ++c) {
          bool matched = false;
          match_set(pattern, static_cast<char>(c), matched);
          token.set[static_cast<std::size_t>(c)] = matched;
        }
        pattern.remove_prefix(length);
      } else {
        if (pattern.front() == '\\' && pattern.size() > 1) {
          token.escaped = true;
          pattern.remove_prefix(1);
        }
        token.kind = Kind::literal;
        token.literal = pattern.front();
        pattern.remove_prefix(1);
      }
      m_tokens.push_back(token);
    }
  }

  // Set `states` to the live states before any text.
  void
  start(std::vector<char>& states) const
  {
    states.assign(m_tokens.size() + 1, 0);
    add(states, 0);
  }

  // Advance `states` over `c`; `next` is scratch space.
  void
  step(std::vector<char>& states, std::vector<char>& next, char c) const
  {
    next.assign(states.size(), 0);
    for (std::size_t i = 0; i < m_tokens.size(); ++i) {
      if (!states[i]) {
        continue;
      }
      const auto& token = m_tokens[i];
      switch (token.kind) {
      case Kind::literal:
        if (token.literal == c) {
          add(next, i + 1);
        }
        break;
      case Kind::one:
        if (c != '/') {
          add(next, i + 1);
        }
        break;
      case Kind::set:
        if (token.set[static_cast<unsigned char>(c)]) {
          add(next, i + 1);
        }
        break;
      case Kind::any_name:
        if (c != '/') {
          add(next, i);
        }
        break;
      case Kind::any_path:
        // Staying inside "**" after it matched something: "**/" may no longer stand for nothing.
        add(next, i, false);
        break;
      }
    }
    states.swap(next);
  }

  static bool
  accepts(const std::vector<char>& states)
  {
    return states.back() != 0;
  }

  static bool
  dead(const std::vector<char>& states)
  {
    for (const char live : states) {
      if (live) {
        return false;
      }
    }
    return true;
  }

private:
  enum class Kind : std::uint8_t { literal, one, set, any_name, any_path };
  struct Token
  {
    Kind kind = Kind::literal;
    char literal = 0;
    bool escaped = false;
    std::array<bool, 256> set{};
  };

  // Make state `i` live, with the states reachable from it without consuming text: past a star
  // (it may match nothing), and, when "**" is entered afresh (`fresh`), past "**/" as a whole
  // ("a/**/b" also matches "a/b").
  void
  add(std::vector<char>& states, std::size_t i, bool fresh = true) const
  {
    while (i < states.size() && states[i] == 0) {
      states[i] = 1;
      if (i == m_tokens.size()) {
        return;
      }
      const auto& token = m_tokens[i];
      if (fresh && token.kind == Kind::any_path && i + 1 < m_tokens.size()
          && m_tokens[i + 1].kind == Kind::literal && m_tokens[i + 1].literal == '/'
          && !m_tokens[i + 1].escaped) {
        add(states, i + 2);
      }
      if (token.kind != Kind::any_name && token.kind != Kind::any_path) {
        return;
      }
      ++i;
      fresh = true;
    }
  }

  std::vector<Token> m_tokens;
};

// Return whether `automaton` (of a pattern with '/') accepts `path` or a directory above it: at the
// end of the path or just before one of its slashes. One pass over the path.
bool
match_anchored(const Automaton& automaton, std::string_view path)
{
  std::vector<char> states;
  std::vector<char> scratch;
  automaton.start(states);
  for (const char c : path) {
    if (c == '/' && Automaton::accepts(states)) {
      return true;
    }
    automaton.step(states, scratch, c);
    if (Automaton::dead(states)) {
      return false;
    }
  }
  return Automaton::accepts(states);
}

// Return whether `automaton` (of a pattern without '/') accepts any component of `path`: its
// last, or a directory above it.
bool
match_component(const Automaton& automaton, std::string_view path)
{
  std::vector<char> states;
  std::vector<char> scratch;
  std::size_t start = 0;
  for (;;) {
    const auto slash = path.find('/', start);
    const auto component =
      path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    automaton.start(states);
    for (const char c : component) {
      automaton.step(states, scratch, c);
      if (Automaton::dead(states)) {
        break;
      }
    }
    if (Automaton::accepts(states)) {
      return true;
    }
    if (slash == std::string_view::npos) {
      return false;
    }
    start = slash + 1;
  }
}

std::string_view
without_trailing_slashes(std::string_view pattern)
{
  // "var/cache/" is written to mean the directory: match it as "var/cache", which covers all
  // under it.
  while (pattern.size() > 1 && pattern.back() == '/') {
    pattern.remove_suffix(1);
  }
  return pattern;
}

} // namespace

struct GlobSet::Compiled
{
  Automaton automaton;
  bool anchored;
};

GlobSet::GlobSet(const std::vector<std::string>& patterns)
{
  for (const auto& raw : patterns) {
    const auto pattern = without_trailing_slashes(raw);
    m_globs.push_back(std::make_shared<const Compiled>(
      Compiled{Automaton(pattern), pattern.find('/') != std::string_view::npos}));
  }
}

bool
GlobSet::matches(std::string_view path) const
{
  for (const auto& glob : m_globs) {
    if (glob->anchored ? match_anchored(glob->automaton, path)
                       : match_component(glob->automaton, path)) {
      return true;
    }
  }
  return false;
}

bool
glob_match(std::string_view pattern, std::string_view path)
{
  return GlobSet({std::string(pattern)}).matches(path);
}

bool
glob_match_any(const std::vector<std::string>& patterns, std::string_view path)
{
  return GlobSet(patterns).matches(path);
}

} // namespace util
