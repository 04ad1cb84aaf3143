// Walk an application tree without ever following a symlink inside it, hashing regular files on
// a pool of worker threads while the walk goes on.
//
// The root itself may be a symlink (/srv/app -> /srv/releases/42) and is followed. Below it,
// everything is reached relative to an open directory fd (openat, fstatat with
// AT_SYMLINK_NOFOLLOW, fdopendir), and a file to hash is opened with O_NOFOLLOW|O_NONBLOCK and
// fstat'ed to confirm it is still the regular file the walk saw, so a symlink or a fifo swapped
// in mid-walk is never followed or blocked on. Mount points are crossed: a bind mount inside the
// application tree is part of what the application serves.
#pragma once

#include <checks/files/entry.hpp>
#include <hook/util/result.hpp>

#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace checks::files {

// --- Interface ---

struct WalkOptions
{
  // Leave out `path` (and, for a directory, everything under it). May be empty.
  std::function<bool(std::string_view path)> skip;
  // Hash the regular file `entry` (its sha256 is not set yet). Empty means hash none.
  std::function<bool(const Entry& entry)> want_sha256;
  // Asked between entries and between blocks of a file (from several threads). May be empty.
  std::function<bool()> should_stop;
  unsigned workers = 1; // hashing threads, at least 1
};

// A path that could not be observed: unreadable, vanished or changed during the walk.
struct WalkProblem
{
  std::string path;
  std::string message; // "open: Permission denied", "vanished during the walk"
};

struct WalkResult
{
  Entries entries;                   // sorted by path; "." is the root itself
  std::vector<WalkProblem> problems; // sorted by path
  bool stopped = false;              // should_stop said yes before the walk was complete
  std::size_t hashed = 0;            // regular files hashed
};

// Walk `root` as described above. An error only when the root itself cannot be opened as a
// directory; everything below it that cannot be read is a WalkProblem.
util::Result<WalkResult> walk_tree(const std::filesystem::path& root, const WalkOptions& options);

} // namespace checks::files
