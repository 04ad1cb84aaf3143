// Shell-style globs over relative paths, for --exclude and allow_extra.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace util {

// --- Interface ---

// Return true when `path` (relative, '/'-separated) matches `pattern`, or lies under a directory
// that does. `*` and `?` do not cross '/', `**` does; `[...]` is a set. A pattern without '/'
// matches the last component at any depth ("*.log" matches "var/app.log"). A trailing '/' is
// dropped ("var/cache/" is "var/cache").
bool glob_match(std::string_view pattern, std::string_view path);

// Return true when `path` matches any of `patterns`.
bool glob_match_any(const std::vector<std::string>& patterns, std::string_view path);

} // namespace util
