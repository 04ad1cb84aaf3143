// Manifest entries for the files tests, built the way `manifest create` records them.
#pragma once

#include <hook/release/entry.hpp>
#include <hook/util/sha256.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace testutil {

// Return the entry of a regular file at `path` holding `content`.
inline release::Entry
file_entry(std::string path, std::string_view content, std::uint32_t mode = 0644)
{
  release::Entry entry;
  entry.path = std::move(path);
  entry.type = release::EntryType::file;
  entry.mode = mode;
  entry.size = content.size();
  entry.sha256 = util::sha256(content);
  return entry;
}

// Return the entry of a directory at `path`.
inline release::Entry
dir_entry(std::string path)
{
  release::Entry entry;
  entry.path = std::move(path);
  entry.type = release::EntryType::dir;
  entry.mode = 0755;
  return entry;
}

// Return the entry of a symlink at `path` pointing at `target`.
inline release::Entry
symlink_entry(std::string path, std::string target)
{
  release::Entry entry;
  entry.path = std::move(path);
  entry.type = release::EntryType::symlink;
  entry.mode = 0777;
  entry.size = target.size();
  entry.target = std::move(target);
  return entry;
}

} // namespace testutil
