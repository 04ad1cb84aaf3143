// One entry of an application tree, as a manifest records it and as a walk observes it.
#pragma once

#include <hook/util/sha256.hpp>

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

namespace checks::files {

// --- Interface ---

enum class EntryType : std::uint8_t { file, dir, symlink, fifo, socket, char_device, block_device };

// Return the manifest's name of `type`: "file", "dir", "symlink", "fifo", "socket", "char",
// "block".
std::string_view entry_type_name(EntryType type);

// Return the type called `name` in a manifest, or nullopt.
std::optional<EntryType> entry_type_from_name(std::string_view name);

struct Entry
{
  std::string path; // relative to the root, '/'-separated, raw bytes; "." is the root itself
  EntryType type = EntryType::file;
  std::uint32_t mode = 0; // permission bits with setuid/setgid/sticky (st_mode & 07777)
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::uint64_t size = 0; // bytes of a file, length of a symlink's target; 0 for the rest
  std::optional<util::Sha256Digest> sha256; // a manifest's files always; a walk's when hashed
  std::string target;                       // a symlink's target, raw bytes; empty for the rest
  std::uint64_t rdev = 0; // a char or block device's number (st_rdev); 0 for the rest
  // Where a walk found it (st_dev, st_ino), so a later look can tell it is the same inode; not
  // part of a manifest, 0 there.
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
};

// Return true when path `a` (followed by '/' when `a_inside`) sorts before path `b` (followed by
// '/' when `b_inside`), bytewise: the manifest's order, in which the contents of directory "d"
// come where "d/" sorts (after "d-x" and "d.x", before "d0").
bool path_order_less(std::string_view a, bool a_inside, std::string_view b, bool b_inside);

// Entries of a manifest or a walk, collected (tests and small trees; the check streams them).
using Entries = std::deque<Entry>;

} // namespace checks::files
