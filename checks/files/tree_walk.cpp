#include "tree_walk.hpp"

#include <hook/util/sha256.hpp>

#include <fmt/format.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

namespace checks::files {

namespace {

// Each worker's read buffer: large enough that a big file costs few syscalls, small enough that
// memory stays flat (workers × 256 KiB) whatever the tree holds.
constexpr std::size_t k_hash_buffer_size = 256 * 1024;

std::string
errno_message(std::string_view operation, int error)
{
  return fmt::format("{}: {}", operation, std::strerror(error));
}

// Close `fd` on scope exit.
class FdGuard
{
public:
  explicit FdGuard(int fd)
      : m_fd(fd)
  {}
  ~FdGuard()
  {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
  }
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;

  int
  get() const
  {
    return m_fd;
  }
  int
  release()
  {
    return std::exchange(m_fd, -1);
  }

private:
  int m_fd;
};

bool
same_inode(const struct stat& a, const struct stat& b)
{
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

EntryType
type_of(mode_t mode)
{
  switch (mode & S_IFMT) {
  case S_IFDIR:
    return EntryType::dir;
  case S_IFLNK:
    return EntryType::symlink;
  case S_IFIFO:
    return EntryType::fifo;
  case S_IFSOCK:
    return EntryType::socket;
  case S_IFCHR:
    return EntryType::char_device;
  case S_IFBLK:
    return EntryType::block_device;
  default:
    return EntryType::file;
  }
}

Entry
entry_from_stat(std::string path, const struct stat& st)
{
  Entry entry;
  entry.path = std::move(path);
  entry.type = type_of(st.st_mode);
  entry.mode = static_cast<std::uint32_t>(st.st_mode & 07777);
  entry.uid = st.st_uid;
  entry.gid = st.st_gid;
  entry.size = entry.type == EntryType::file ? static_cast<std::uint64_t>(st.st_size) : 0;
  return entry;
}

struct HashJob
{
  Entry* entry = nullptr; // in WalkResult::entries, a deque: appending never moves elements
  int fd = -1;            // owned by the job: the worker closes it
  std::string path;
};

// Hash opened files on `workers` threads. The queue is bounded so the walk, which opens the
// files, never holds more than a few dozen descriptors.
class HashPool
{
public:
  HashPool(unsigned workers, std::function<bool()> should_stop)
      : m_should_stop(std::move(should_stop)),
        m_capacity(std::size_t{workers} * 4 + 16)
  {
    for (unsigned i = 0; i < std::max(workers, 1U); ++i) {
      m_threads.emplace_back([this] { work(); });
    }
  }

  ~HashPool() { finish(); }

  HashPool(const HashPool&) = delete;
  HashPool& operator=(const HashPool&) = delete;

  // Queue `job`, waiting while the queue is full.
  void
  submit(HashJob job)
  {
    std::unique_lock lock(m_mutex);
    m_not_full.wait(lock, [this] { return m_queue.size() < m_capacity; });
    m_queue.push_back(std::move(job));
    m_not_empty.notify_one();
  }

  // Let the workers drain the queue and join them.
  void
  finish()
  {
    {
      const std::lock_guard lock(m_mutex);
      m_closed = true;
    }
    m_not_empty.notify_all();
    for (auto& thread : m_threads) {
      if (thread.joinable()) {
        thread.join();
      }
    }
  }

  // Valid after finish().
  std::size_t hashed = 0;
  std::vector<WalkProblem> problems;
  bool stopped = false;

private:
  void
  work()
  {
    std::vector<std::byte> buffer(k_hash_buffer_size);
    for (;;) {
      HashJob job;
      {
        std::unique_lock lock(m_mutex);
        m_not_empty.wait(lock, [this] { return m_closed || !m_queue.empty(); });
        if (m_queue.empty()) {
          return;
        }
        job = std::move(m_queue.front());
        m_queue.pop_front();
      }
      m_not_full.notify_one();
      const FdGuard fd(job.fd);
      util::Result<util::Sha256Digest> digest = util::make_error(util::Errc::internal, "");
      try {
        digest = util::sha256_fd(fd.get(), buffer, m_should_stop);
      } catch (const std::exception& e) {
        digest = util::make_error(util::Errc::internal, e.what());
      }
      const std::lock_guard lock(m_mutex);
      if (digest) {
        // Only this worker touches this entry until finish() joins; the walk only appends.
        job.entry->sha256 = *digest;
        ++hashed;
      } else if (digest.error().code == util::Errc::cancelled) {
        stopped = true;
      } else {
        problems.push_back({std::move(job.path), digest.error().message});
      }
    }
  }

  std::function<bool()> m_should_stop;
  std::size_t m_capacity;
  std::mutex m_mutex;
  std::condition_variable m_not_empty;
  std::condition_variable m_not_full;
  std::deque<HashJob> m_queue;
  bool m_closed = false;
  std::vector<std::thread> m_threads;
};

class Walker
{
public:
  Walker(const WalkOptions& options, HashPool& pool, WalkResult& result)
      : m_options(options),
        m_pool(pool),
        m_result(result),
        m_entries(result.entries)
  {}

  // Record the root (its fd is open and fstat'ed as `st`) and walk what is under it.
  void
  walk_root(int fd, const struct stat& st)
  {
    m_entries.push_back(entry_from_stat(".", st));
    walk_directory(fd, "");
  }

private:
  bool
  stopping()
  {
    if (!m_result.stopped && m_options.should_stop && m_options.should_stop()) {
      m_result.stopped = true;
    }
    return m_result.stopped;
  }

  void
  problem(std::string path, std::string message)
  {
    m_result.problems.push_back({std::move(path), std::move(message)});
  }

  // Return the names in the directory open as `fd` (without "." and ".."), or nullopt after
  // recording a problem for `display`.
  std::optional<std::vector<std::string>>
  list_names(int fd, const std::string& display)
  {
    // fdopendir owns the descriptor it is given; keep ours for the openat calls that follow.
    const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (copy < 0) {
      problem(display, errno_message("dup", errno));
      return std::nullopt;
    }
    DIR* dir = ::fdopendir(copy);
    if (dir == nullptr) {
      problem(display, errno_message("opendir", errno));
      ::close(copy);
      return std::nullopt;
    }
    std::vector<std::string> names;
    for (;;) {
      errno = 0;
      const struct dirent* item = ::readdir(dir);
      if (item == nullptr) {
        const int error = errno;
        ::closedir(dir);
        if (error != 0) {
          problem(display, errno_message("readdir", error));
          return std::nullopt;
        }
        return names;
      }
      const std::string_view name = item->d_name;
      if (name != "." && name != "..") {
        names.emplace_back(name);
      }
    }
  }

  void
  walk_directory(int fd, const std::string& prefix)
  {
    auto names = list_names(fd, prefix.empty() ? "." : prefix);
    if (!names) {
      return;
    }
    for (const auto& name : *names) {
      if (stopping()) {
        return;
      }
      std::string path = prefix.empty() ? name : prefix + "/" + name;
      if (m_options.skip && m_options.skip(path)) {
        continue;
      }
      struct stat st
      {
      };
      if (::fstatat(fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        const int error = errno;
        problem(std::move(path),
                error == ENOENT ? std::string("vanished during the walk")
                                : errno_message("stat", error));
        continue;
      }
      Entry entry = entry_from_stat(std::move(path), st);
      switch (entry.type) {
      case EntryType::symlink:
        if (!read_target(fd, name, entry)) {
          continue;
        }
        m_entries.push_back(std::move(entry));
        break;
      case EntryType::file:
        add_file(fd, name, st, std::move(entry));
        break;
      case EntryType::dir:
        add_directory(fd, name, st, std::move(entry));
        break;
      default:
        m_entries.push_back(std::move(entry));
        break;
      }
    }
  }

  bool
  read_target(int fd, const std::string& name, Entry& entry)
  {
    std::string target(4096, '\0');
    for (;;) {
      const ssize_t length = ::readlinkat(fd, name.c_str(), target.data(), target.size());
      if (length < 0) {
        const int error = errno;
        problem(entry.path,
                error == ENOENT ? std::string("vanished during the walk")
                                : errno_message("readlink", error));
        return false;
      }
      if (static_cast<std::size_t>(length) < target.size()) {
        target.resize(static_cast<std::size_t>(length));
        break;
      }
      target.resize(target.size() * 2);
    }
    entry.size = target.size();
    entry.target = std::move(target);
    return true;
  }

  void
  add_file(int fd, const std::string& name, const struct stat& st, Entry entry)
  {
    if (!m_options.want_sha256 || !m_options.want_sha256(entry)) {
      m_entries.push_back(std::move(entry));
      return;
    }
    // O_NONBLOCK: if a fifo was swapped in since fstatat, open must not wait for a writer.
    FdGuard file(
      ::openat(fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC | O_NONBLOCK));
    if (file.get() < 0) {
      const int error = errno;
      problem(std::move(entry.path),
              error == ENOENT ? std::string("vanished during the walk")
                              : errno_message("open", error));
      return;
    }
    struct stat opened
    {
    };
    if (::fstat(file.get(), &opened) != 0) {
      problem(std::move(entry.path), errno_message("fstat", errno));
      return;
    }
    if (!S_ISREG(opened.st_mode) || !same_inode(st, opened)) {
      problem(std::move(entry.path), "changed during the walk");
      return;
    }
    std::string path = entry.path;
    m_entries.push_back(std::move(entry));
    m_pool.submit({&m_entries.back(), file.release(), std::move(path)});
  }

  void
  add_directory(int fd, const std::string& name, const struct stat& st, Entry entry)
  {
    std::string path = entry.path;
    m_entries.push_back(std::move(entry));
    const FdGuard child(
      ::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (child.get() < 0) {
      const int error = errno;
      problem(std::move(path),
              error == ENOENT ? std::string("vanished during the walk")
                              : errno_message("open", error));
      return;
    }
    struct stat opened
    {
    };
    if (::fstat(child.get(), &opened) != 0) {
      problem(std::move(path), errno_message("fstat", errno));
      return;
    }
    if (!same_inode(st, opened)) {
      problem(std::move(path), "changed during the walk");
      return;
    }
    walk_directory(child.get(), path);
  }

  const WalkOptions& m_options;
  HashPool& m_pool;
  WalkResult& m_result;
  Entries& m_entries; // a deque: hashing workers hold pointers into it
};

} // namespace

util::Result<WalkResult>
walk_tree(const std::filesystem::path& root, const WalkOptions& options)
{
  // The root alone is opened following symlinks: /srv/app -> /srv/releases/42 is the usual shape.
  const FdGuard fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) {
    const int error = errno;
    return util::make_error(
      error == EACCES ? util::Errc::permission : util::Errc::io,
      fmt::format("{}: cannot open the root directory: {}", root.string(), std::strerror(error)));
  }
  struct stat st
  {
  };
  if (::fstat(fd.get(), &st) != 0) {
    return util::make_error(util::Errc::io,
                            fmt::format("{}: {}", root.string(), errno_message("fstat", errno)));
  }

  WalkResult result;
  {
    HashPool pool(options.workers, options.should_stop);
    Walker walker(options, pool, result);
    walker.walk_root(fd.get(), st);
    pool.finish();
    result.hashed = pool.hashed;
    result.stopped = result.stopped || pool.stopped;
    std::move(pool.problems.begin(), pool.problems.end(), std::back_inserter(result.problems));
  }
  std::sort(result.entries.begin(), result.entries.end(), [](const Entry& a, const Entry& b) {
    return a.path < b.path;
  });
  std::sort(result.problems.begin(),
            result.problems.end(),
            [](const WalkProblem& a, const WalkProblem& b) { return a.path < b.path; });
  return result;
}

} // namespace checks::files
