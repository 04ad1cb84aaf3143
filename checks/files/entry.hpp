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
};

// Entries of a manifest or a walk. A deque: it grows without the doubling copies of a vector
// (100k entries stay one copy), and appending never moves an element, so hashing workers can
// fill in an entry while the walk goes on.
using Entries = std::deque<Entry>;

} // namespace checks::files
