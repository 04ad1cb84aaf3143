// Walk an application tree without ever following a symlink inside it, in manifest order, on a
// pool of threads that list directories and hash files ahead of the caller.
//
// The root itself may be a symlink (/srv/app -> /srv/releases/42) and is followed. Below it,
// everything is reached relative to an open directory fd (openat with O_NOFOLLOW, fstatat with
// AT_SYMLINK_NOFOLLOW, getdents), and a regular file is opened with O_NOFOLLOW|O_NONBLOCK and
// fstat'ed, so what is hashed is what is recorded and a symlink or a fifo swapped in mid-walk is
// never followed or blocked on. A directory is opened again (from its parent's fd, or component
// by component from the root) and must still be the inode its parent listed. Mount points are
// crossed: a bind mount inside the application tree is part of what the application serves.
//
// Items come out sorted bytewise by full path, which is the manifest's order: a directory's
// names are sorted with the directory's own contents placed at "name/" ('/' sorts after '-' and
// '.', so "a-b" < "a.b" < "a/x" < "a0"), so the caller can compare with a manifest as a merge.
// Threads work on whole directories (listing, stat, hashing the small files) and on large files,
// the ones the caller will need soonest first, at most k_max_buffered_items ahead of the caller:
// memory does not grow with the size of the tree. With no worker thread (or when none could be
// started) the caller's thread does all the work.
#pragma once

#include <checks/files/entry.hpp>
#include <hook/util/result.hpp>
#include <hook/util/sha256.hpp>

#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace checks::files {

// --- Interface ---

// The longest relative path the walk goes to: 4 × PATH_MAX, beyond what an application can
// open by name. A longer path is a problem naming it, so depth is bounded (at most 8192
// directories) and so is the memory a walk holds.
inline constexpr std::size_t k_max_walk_path = 16 * 1024;

// Return the number of walking threads used when none is configured (measured: see the README).
unsigned default_walk_workers();

struct WalkOptions
{
  // Leave out `path` (and, for a directory, everything under it). May be empty. Called from
  // several threads.
  std::function<bool(std::string_view path)> skip;
  // Record `path` but do not hash it (a file) or walk into it (a directory) unless the caller
  // asks (TreeWalk::hash, `enter`). May be empty. Called from several threads.
  std::function<bool(std::string_view path)> defer;
  // Asked on the caller's thread, inside TreeWalk::next(), when the contents of the deferred
  // directory `path` would come next: true walks into it now. Empty: never.
  std::function<bool(std::string_view path)> enter;
  bool hash_files = false; // hash every regular file not deferred
  // Asked between entries and between blocks of a file (from several threads). May be empty.
  std::function<bool()> should_stop;
  unsigned workers = 1; // threads besides the caller's; 0: the caller's thread does it all
  // Directory descriptors held open for opening subdirectories; past this a subdirectory is
  // opened component by component from the root, so deep or wide trees never run out of fds.
  std::size_t max_open_directories = 128;
};

// One path of the tree, as observed.
struct WalkItem
{
  Entry entry;           // path always; the rest when `observed`
  bool observed = true;  // false: the path could not be looked at, `problem` says why
  bool deferred = false; // defer() said so: a file not hashed, a directory not walked into
  // Non-empty when this path could not be read: not observed ("vanished during the walk",
  // "open: Permission denied"), or a directory observed whose contents could not be listed.
  std::string problem;
  // Set on a problem about the contents of a deferred directory that `enter` walked into,
  // reported where its contents would come ("path/"), after the directory's own item.
  bool contents = false;
};

class TreeWalk
{
public:
  // Open `root` as a directory and start the threads. An error only when the root itself cannot
  // be opened; everything below it that cannot be read is an item with a problem.
  static util::Result<std::unique_ptr<TreeWalk>> open(const std::filesystem::path& root,
                                                      WalkOptions options);
  ~TreeWalk();
  TreeWalk(const TreeWalk&) = delete;
  TreeWalk& operator=(const TreeWalk&) = delete;

  // Return the next item in manifest order (valid until the next call), or nullptr at the end
  // or when should_stop said yes (then stopped() is true).
  const WalkItem* next();
  // Return the SHA-256 of the deferred regular file `item` returned by next(), opened again from
  // the root; it must still be the inode the walk saw.
  util::Result<util::Sha256Digest> hash(const WalkItem& item);

  bool stopped() const;
  std::size_t hashed() const; // regular files hashed so far
  unsigned threads() const;   // worker threads running

private:
  struct State;
  explicit TreeWalk(std::unique_ptr<State> state);
  std::unique_ptr<State> m_state;
};

// A walk collected: entries and problems, sorted by path.
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

// Walk `root` to the end and collect what was found; deferred directories are not walked into
// and deferred files not hashed. For tests and small trees: the files check streams instead.
util::Result<WalkResult> walk_tree(const std::filesystem::path& root, WalkOptions options);

} // namespace checks::files
