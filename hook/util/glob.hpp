// Shell-style globs over relative paths, for --exclude and allow_extra.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace util {

// --- Interface ---

// Return true when `path` (relative, '/'-separated) matches `pattern`, or lies under a directory
// that does. `*` and `?` do not cross '/', `**` does; `[...]` is a set. A pattern without '/'
// matches the last component at any depth ("*.log" matches "var/app.log"). A trailing '/' is
// dropped ("var/cache/" is "var/cache"). Costs at most pattern length × path length.
bool glob_match(std::string_view pattern, std::string_view path);

// Return true when `path` matches any of `patterns`.
bool glob_match_any(const std::vector<std::string>& patterns, std::string_view path);

// Globs compiled once and matched against many paths (a walk asks for every entry), with the
// rules of glob_match. Copies share the compiled form; safe to use from several threads.
class GlobSet
{
public:
  GlobSet() = default;
  explicit GlobSet(const std::vector<std::string>& patterns);

  // Return true when `path` matches any of the globs (or lies under a directory that does).
  bool matches(std::string_view path) const;
  bool
  empty() const
  {
    return m_globs.empty();
  }

private:
  struct Compiled;
  std::vector<std::shared_ptr<const Compiled>> m_globs;
};

} // namespace util
