#include "tree_walk.hpp"

#include <fmt/format.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>

namespace checks::files {

namespace {

// Each thread's read buffer: large enough that a big file costs few syscalls, small enough that
// memory stays flat (threads × 256 KiB) whatever the tree holds.
constexpr std::size_t k_hash_buffer_size = 256 * 1024;
// A file larger than this is hashed as a task of its own, so two large files in one directory
// are hashed on two cores; smaller ones are hashed by the thread that lists their directory.
constexpr std::uint64_t k_large_file = 1024 * 1024;
// Items listed but not yet taken by the caller before the threads wait: what bounds memory
// (about 300 bytes each).
constexpr std::size_t k_max_buffered_items = 32 * 1024;
// Large files opened and waiting for a thread; past this they are hashed where they are found.
constexpr std::size_t k_max_file_tasks = 32;
// Small files whose content is not in the page cache: their reads are started (readahead) and
// they are hashed once this many are in flight on a thread, so a cold disk sees many reads at
// once; at most k_max_cold_total held open over all threads, whatever `workers` says.
constexpr std::size_t k_max_cold_files = 32;
constexpr std::size_t k_max_cold_total = 256;
// getdents buffer.
constexpr std::size_t k_dirent_buffer = 64 * 1024;

std::string
errno_message(std::string_view operation, int error)
{
  return fmt::format("{}: {}", operation, std::strerror(error));
}

std::string
lost_message(std::string_view operation, int error)
{
  return error == ENOENT ? std::string("vanished during the walk")
                         : errno_message(operation, error);
}

// Close `fd` on scope exit.
class FdGuard
{
public:
  explicit FdGuard(int fd = -1)
      : m_fd(fd)
  {}
  ~FdGuard() { reset(); }
  FdGuard(FdGuard&& other) noexcept
      : m_fd(other.release())
  {}
  FdGuard&
  operator=(FdGuard&& other) noexcept
  {
    reset(other.release());
    return *this;
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
  void
  reset(int fd = -1)
  {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
    m_fd = fd;
  }

private:
  int m_fd;
};

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

void
fill_from_stat(Entry& entry, const struct stat& st)
{
  entry.type = type_of(st.st_mode);
  entry.mode = static_cast<std::uint32_t>(st.st_mode & 07777);
  entry.uid = st.st_uid;
  entry.gid = st.st_gid;
  entry.size = entry.type == EntryType::file ? static_cast<std::uint64_t>(st.st_size) : 0;
  entry.rdev = entry.type == EntryType::char_device || entry.type == EntryType::block_device
                 ? static_cast<std::uint64_t>(st.st_rdev)
                 : 0;
  entry.device = st.st_dev;
  entry.inode = st.st_ino;
}

} // namespace

bool
path_order_less(std::string_view a, bool a_inside, std::string_view b, bool b_inside)
{
  const auto common = std::min(a.size(), b.size());
  const int c = std::memcmp(a.data(), b.data(), common);
  if (c != 0) {
    return c < 0;
  }
  const auto at = [](std::string_view s, bool inside, std::size_t i) -> int {
    if (i < s.size()) {
      return static_cast<unsigned char>(s[i]);
    }
    return i == s.size() && inside ? '/' : -1;
  };
  for (std::size_t i = common;; ++i) {
    const int x = at(a, a_inside, i);
    const int y = at(b, b_inside, i);
    if (x != y) {
      return x < y;
    }
    if (x < 0) {
      return false;
    }
  }
}

namespace {

struct DirFd
{
  explicit DirFd(int descriptor, std::atomic<std::size_t>& open_count)
      : fd(descriptor),
        count(open_count)
  {
    ++count;
  }
  ~DirFd()
  {
    ::close(fd);
    --count;
  }
  DirFd(const DirFd&) = delete;
  DirFd& operator=(const DirFd&) = delete;
  int fd;
  std::atomic<std::size_t>& count;
};

enum class TaskState : std::uint8_t { deferred, pending, running, done };

struct Task
{
  virtual ~Task() = default;
  std::string key; // the order tasks are wanted in: a directory's path + "/", a file's path
  TaskState state = TaskState::pending;
};

struct Node;
struct FileTask;

struct Item
{
  WalkItem walked;
  std::shared_ptr<Node> child;    // a directory's listing (on its entry and on its marker)
  std::shared_ptr<FileTask> file; // a large file hashed by a task of its own
  bool inside = false;            // the marker where the directory's contents come
};

// A directory to list.
struct Node : Task
{
  std::string path;              // "." for the root, else "a/b"
  std::string name;              // within the parent
  std::shared_ptr<DirFd> parent; // to open it; null: open from the root
  std::uint64_t device = 0;      // as the parent's listing saw it
  std::uint64_t inode = 0;
  std::vector<Item> items; // sorted, once done
  std::string problem;     // its contents could not be listed
  bool stopped = false;
  // Set before the node is shared and never changed: no lock needed to read it, unlike `state`.
  bool deferred = false;
  bool entered = false; // the caller's thread only: `enter` said yes
};

// A large file to hash, opened by the listing.
struct FileTask : Task
{
  FdGuard fd;
  std::optional<util::Sha256Digest> digest;
  std::string problem;
  bool stopped = false;
};

// What each thread hashes with.
struct Scratch
{
  std::vector<std::byte> buffer = std::vector<std::byte>(k_hash_buffer_size);
  std::vector<char> dirents = std::vector<char>(k_dirent_buffer);
  util::Sha256Hasher hasher;
};

struct ColdFile
{
  std::size_t item;
  FdGuard fd;
};

} // namespace

struct TreeWalk::State
{
  WalkOptions options;
  FdGuard root;
  std::mutex mutex;
  std::condition_variable work; // a task was queued, the budget freed up, or shutting down
  std::condition_variable done; // a task finished
  // Declared before the tasks, which count themselves down in them when destroyed.
  std::atomic<std::size_t> open_directories{0};
  std::atomic<std::size_t> file_tasks{0};
  std::atomic<std::size_t> cold_files{0};
  std::map<std::string_view, std::shared_ptr<Task>> pending; // by key: soonest wanted first
  std::size_t buffered = 0; // items of finished listings not yet taken by the caller
  bool shutdown = false;
  std::atomic<bool> cancel{false};
  std::atomic<std::size_t> hashed{0};
  std::atomic<bool> nowait_works{true};
  std::vector<std::thread> threads;

  // The caller's side.
  Scratch scratch;
  struct Frame
  {
    std::shared_ptr<Node> node;
    bool ready = false; // its listing is done
    std::size_t next = 0;
  };
  std::vector<Frame> stack;
  std::shared_ptr<Node> root_node;
  const Item* last = nullptr;
  bool stopped = false;
  std::size_t asked = 0; // next() calls, to ask should_stop every few

  bool
  stopping() const
  {
    return cancel.load(std::memory_order_relaxed) || (options.should_stop && options.should_stop());
  }

  // --- threads ---

  void
  work_loop()
  {
    Scratch own;
    for (;;) {
      std::shared_ptr<Task> task;
      {
        std::unique_lock lock(mutex);
        work.wait(lock, [this] {
          return shutdown || (!pending.empty() && buffered < k_max_buffered_items);
        });
        if (shutdown) {
          return;
        }
        task = take(pending.begin()->second);
      }
      run(*task, own);
    }
  }

  // Mark `task` (pending, under the lock) as running and take it off the queue.
  std::shared_ptr<Task>
  take(std::shared_ptr<Task> task)
  {
    pending.erase(task->key);
    task->state = TaskState::running;
    return task;
  }

  void
  queue(const std::shared_ptr<Task>& task)
  {
    task->state = TaskState::pending;
    pending.emplace(task->key, task);
  }

  // Run `task` (taken) and publish what it found.
  void
  run(Task& task, Scratch& scratch_space)
  {
    std::vector<std::shared_ptr<Task>> more;
    if (auto* node = dynamic_cast<Node*>(&task)) {
      try {
        list(*node, scratch_space, more);
      } catch (const std::exception& e) {
        node->items.clear();
        more.clear();
        node->problem = fmt::format("internal error: {}", e.what());
      }
    } else {
      auto& file = static_cast<FileTask&>(task);
      try {
        hash_large(file, scratch_space);
      } catch (const std::exception& e) {
        file.problem = fmt::format("internal error: {}", e.what());
      }
    }
    {
      const std::lock_guard lock(mutex);
      task.state = TaskState::done;
      if (auto* node = dynamic_cast<Node*>(&task)) {
        buffered += node->items.size();
      }
      for (auto& next : more) {
        queue(next);
      }
    }
    done.notify_all();
    work.notify_all();
  }

  void
  hash_large(FileTask& file, Scratch& scratch_space)
  {
    // Only a hint: it doubles the kernel's read-ahead for a file read from start to end.
    (void)::posix_fadvise(file.fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
    auto digest = util::sha256_fd(
      file.fd.get(), scratch_space.buffer, scratch_space.hasher, 0, [this] { return stopping(); });
    file.fd.reset();
    --file_tasks;
    if (digest) {
      file.digest = *digest;
      ++hashed;
    } else if (digest.error().code == util::Errc::cancelled) {
      file.stopped = true;
    } else {
      file.problem = digest.error().message;
    }
  }

  // Open the directory `node` names and check it is the one its parent listed.
  util::Result<FdGuard>
  open_directory(const Node& node)
  {
    if (node.parent) {
      FdGuard fd(::openat(
        node.parent->fd, node.name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (fd.get() < 0) {
        return util::make_error(util::Errc::io, lost_message("open", errno));
      }
      RG_TRY(same_inode(fd.get(), node.device, node.inode));
      return fd;
    }
    return open_from_root(node.path, O_RDONLY | O_DIRECTORY, node.device, node.inode);
  }

  static util::Result<void>
  same_inode(int fd, std::uint64_t device, std::uint64_t inode)
  {
    struct stat st
    {
    };
    if (::fstat(fd, &st) != 0) {
      return util::make_error(util::Errc::io, errno_message("fstat", errno));
    }
    if (st.st_dev != device || st.st_ino != inode) {
      return util::make_error(util::Errc::io, "changed during the walk");
    }
    return {};
  }

  // Open `path` below the root one component at a time, following no symlink (paths may be
  // longer than PATH_MAX), with `flags` for the last component, which must be the inode
  // `device`:`inode`.
  util::Result<FdGuard>
  open_from_root(std::string_view path, int flags, std::uint64_t device, std::uint64_t inode)
  {
    FdGuard current;
    int at = root.get();
    for (;;) {
      const auto slash = path.find('/');
      const std::string name(path.substr(0, slash));
      const bool final = slash == std::string_view::npos;
      FdGuard next(::openat(at,
                            name.c_str(),
                            (final ? flags : O_RDONLY | O_DIRECTORY) | O_NOFOLLOW | O_CLOEXEC
                              | O_NONBLOCK | O_NOCTTY));
      if (next.get() < 0) {
        const int error = errno;
        return util::make_error(util::Errc::io,
                                error == ELOOP || error == ENOTDIR
                                  ? std::string("changed during the walk")
                                  : lost_message("open", error));
      }
      current = std::move(next);
      at = current.get();
      if (final) {
        break;
      }
      path.remove_prefix(slash + 1);
    }
    RG_TRY(same_inode(current.get(), device, inode));
    return current;
  }

  // List the directory `node`: every name observed, small files hashed, subdirectories and
  // large files queued as `more` tasks.
  void
  list(Node& node, Scratch& scratch_space, std::vector<std::shared_ptr<Task>>& more)
  {
    int fd = root.get();
    FdGuard owned;
    if (node.path != ".") {
      auto opened = open_directory(node);
      node.parent.reset();
      if (!opened) {
        node.problem = opened.error().message;
        return;
      }
      owned = std::move(*opened);
      fd = owned.get();
    }
    auto& items = node.items;
    if (node.path == ".") {
      struct stat st
      {
      };
      Item item;
      item.walked.entry.path = ".";
      if (::fstat(fd, &st) != 0) {
        item.walked.observed = false;
        item.walked.problem = errno_message("fstat", errno);
      } else {
        fill_from_stat(item.walked.entry, st);
      }
      items.push_back(std::move(item));
    }
    auto names = read_names(fd, scratch_space.dirents);
    if (!names) {
      // The root's listing is reported on its own entry, like any directory's.
      if (node.path == ".") {
        items.front().walked.problem = names.error().message;
      } else {
        node.problem = names.error().message;
      }
      return;
    }
    // Subdirectories open from this one while few directories are held open.
    std::shared_ptr<DirFd> shared;
    const auto parent_fd = [&]() -> std::shared_ptr<DirFd> {
      if (!shared && open_directories.load() < options.max_open_directories) {
        const int copy = owned.get() >= 0 ? owned.release() : ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
        if (copy >= 0) {
          shared = std::make_shared<DirFd>(copy, open_directories);
        }
      }
      return shared;
    };
    const std::string prefix = node.path == "." ? std::string() : node.path + "/";
    std::vector<ColdFile> cold;
    items.reserve(items.size() + names->offsets.size());
    std::size_t listed = 0;
    for (std::size_t n = 0; n < names->offsets.size(); ++n) {
      const char* const name_text = names->text.data() + names->offsets[n];
      const std::string_view name(name_text);
      const auto type = names->types[n];
      // Every 16 entries: the deadline is read from the clock, a cost per entry otherwise.
      if (listed++ % 16 == 0 && stopping()) {
        node.stopped = true;
        break;
      }
      Item item;
      auto& walked = item.walked;
      walked.entry.path.reserve(prefix.size() + name.size());
      walked.entry.path.append(prefix).append(name);
      if (walked.entry.path.size() > k_max_walk_path) {
        walked.observed = false;
        walked.problem =
          fmt::format("path longer than {} bytes, not walked (the walk's limit)", k_max_walk_path);
        items.push_back(std::move(item));
        continue;
      }
      if (options.skip && options.skip(walked.entry.path)) {
        continue;
      }
      walked.deferred = options.defer && options.defer(walked.entry.path);
      const bool hash = options.hash_files && !walked.deferred;
      FdGuard file;
      if (hash && type == DT_REG) {
        // Most filesystems say the type in the listing: a file is opened and fstat'ed, one
        // call fewer than fstatat first, and what is recorded is the inode that is hashed.
        file.reset(
          ::openat(fd, name_text, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
      }
      struct stat st
      {
      };
      if (file.get() >= 0) {
        if (::fstat(file.get(), &st) != 0) {
          walked.observed = false;
          walked.problem = errno_message("fstat", errno);
          items.push_back(std::move(item));
          continue;
        }
        if (!S_ISREG(st.st_mode)) {
          walked.observed = false;
          walked.problem = "changed during the walk";
          items.push_back(std::move(item));
          continue;
        }
      } else if (::fstatat(fd, name_text, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        walked.observed = false;
        walked.problem = lost_message("stat", errno);
        items.push_back(std::move(item));
        continue;
      }
      fill_from_stat(walked.entry, st);
      switch (walked.entry.type) {
      case EntryType::symlink:
        read_target(fd, name_text, walked);
        items.push_back(std::move(item));
        break;
      case EntryType::dir: {
        auto child = std::make_shared<Node>();
        child->path = walked.entry.path;
        child->name = name;
        child->key = child->path + "/";
        child->device = walked.entry.device;
        child->inode = walked.entry.inode;
        child->parent = parent_fd();
        child->state = walked.deferred ? TaskState::deferred : TaskState::pending;
        child->deferred = walked.deferred;
        if (!walked.deferred) {
          more.push_back(child);
        }
        item.child = child;
        Item marker;
        marker.walked.entry.path = walked.entry.path;
        marker.child = child;
        marker.inside = true;
        items.push_back(std::move(item));
        items.push_back(std::move(marker));
        break;
      }
      case EntryType::file:
        if (!hash) {
          items.push_back(std::move(item));
          break;
        }
        if (file.get() < 0) {
          file.reset(
            ::openat(fd, name_text, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
          if (file.get() < 0) {
            walked.observed = false;
            walked.problem = lost_message("open", errno);
            items.push_back(std::move(item));
            break;
          }
          if (auto same = same_inode(file.get(), walked.entry.device, walked.entry.inode); !same) {
            walked.observed = false;
            walked.problem = same.error().message;
            items.push_back(std::move(item));
            break;
          }
        }
        if (walked.entry.size > k_large_file && file_tasks.load() < k_max_file_tasks) {
          auto task = std::make_shared<FileTask>();
          task->key = walked.entry.path;
          task->fd = std::move(file);
          ++file_tasks;
          item.file = task;
          more.push_back(task);
          items.push_back(std::move(item));
          break;
        }
        items.push_back(std::move(item));
        hash_small(items.back(), items.size() - 1, std::move(file), scratch_space, cold);
        if (cold.size() >= k_max_cold_files) {
          drain_cold(items, cold, scratch_space);
        }
        break;
      default:
        items.push_back(std::move(item));
        break;
      }
    }
    drain_cold(items, cold, scratch_space);
    // Sort positions, then move each item once: items are a few hundred bytes each.
    std::vector<std::uint32_t> order(items.size());
    for (std::size_t i = 0; i < order.size(); ++i) {
      order[i] = static_cast<std::uint32_t>(i);
    }
    std::sort(order.begin(), order.end(), [&items](std::uint32_t a, std::uint32_t b) {
      return path_order_less(
        items[a].walked.entry.path, items[a].inside, items[b].walked.entry.path, items[b].inside);
    });
    std::vector<Item> sorted;
    sorted.reserve(items.size());
    for (const auto i : order) {
      sorted.push_back(std::move(items[i]));
    }
    items = std::move(sorted);
  }

  // Hash the small file `item` (at `index`) open as `file`; when its content is not in the
  // page cache, start reading it and leave it in `cold` for later.
  void
  hash_small(Item& item, std::size_t index, FdGuard file, Scratch& s, std::vector<ColdFile>& cold)
  {
    std::size_t prefix = 0;
    if (nowait_works.load(std::memory_order_relaxed)) {
      iovec vector{s.buffer.data(), s.buffer.size()};
      // RWF_NOWAIT reads only what the page cache holds: a warm file is read here in one call,
      // a cold one says EAGAIN and its read is started in the background instead of waited for.
      const ssize_t count = ::preadv2(file.get(), &vector, 1, 0, RWF_NOWAIT);
      const int error = count < 0 ? errno : 0;
      if (error == EAGAIN) {
        if (cold_files.load() < k_max_cold_total) {
          (void)::readahead(file.get(), 0, static_cast<std::size_t>(item.walked.entry.size));
          ++cold_files;
          cold.push_back({index, std::move(file)});
          return;
        }
        // Enough reads in flight already: read this one the ordinary way, below.
      } else if (error == EOPNOTSUPP || error == EINVAL || error == ENOSYS) {
        nowait_works = false;
      } else if (error != 0) {
        item.walked.observed = false;
        item.walked.problem = errno_message("read", error);
        return;
      } else {
        prefix = static_cast<std::size_t>(count);
        // The whole file as fstat saw it, in one read: its size and digest describe the same
        // bytes, and one more read only to see the end of the file is a syscall per file saved.
        if (prefix == item.walked.entry.size && prefix < s.buffer.size()) {
          s.hasher.reset();
          s.hasher.update(std::span<const std::byte>(s.buffer.data(), prefix));
          item.walked.entry.sha256 = s.hasher.finish();
          ++hashed;
          return;
        }
      }
    }
    finish_hash(item.walked, file.get(), prefix, s);
  }

  void
  finish_hash(WalkItem& walked, int fd, std::size_t prefix, Scratch& s)
  {
    auto digest = util::sha256_fd(fd, s.buffer, s.hasher, prefix, [this] { return stopping(); });
    if (digest) {
      walked.entry.sha256 = *digest;
      ++hashed;
    } else if (digest.error().code != util::Errc::cancelled) {
      walked.observed = false;
      walked.problem = digest.error().message;
    }
  }

  void
  drain_cold(std::vector<Item>& items, std::vector<ColdFile>& cold, Scratch& s)
  {
    for (auto& file : cold) {
      finish_hash(items[file.item].walked, file.fd.get(), 0, s);
      file.fd.reset();
      --cold_files;
    }
    cold.clear();
  }

  static void
  read_target(int fd, const char* name, WalkItem& walked)
  {
    std::string target(256, '\0');
    for (;;) {
      const ssize_t length = ::readlinkat(fd, name, target.data(), target.size());
      if (length < 0) {
        walked.observed = false;
        walked.problem = lost_message("readlink", errno);
        return;
      }
      if (static_cast<std::size_t>(length) < target.size()) {
        target.resize(static_cast<std::size_t>(length));
        break;
      }
      target.resize(target.size() * 2);
    }
    walked.entry.size = target.size();
    walked.entry.target = std::move(target);
  }

  // A directory's listing: the names and listed types, in one buffer rather than a string each.
  struct Names
  {
    std::vector<char> text;             // each name followed by its NUL
    std::vector<std::uint32_t> offsets; // where each name starts in `text`
    std::vector<unsigned char> types;   // DT_* as listed
  };

  // Return the names in the directory open as `fd` with their listed types.
  static util::Result<Names>
  read_names(int fd, std::vector<char>& buffer)
  {
    Names names;
    if (::lseek(fd, 0, SEEK_SET) < 0) {
      return util::make_error(util::Errc::io, errno_message("readdir", errno));
    }
    for (;;) {
      const long count = ::syscall(SYS_getdents64, fd, buffer.data(), buffer.size());
      if (count < 0) {
        if (errno == EINTR) {
          continue;
        }
        return util::make_error(util::Errc::io, errno_message("readdir", errno));
      }
      if (count == 0) {
        return names;
      }
      for (long at = 0; at < count;) {
        // struct linux_dirent64: ino, off, reclen, type, name
        const char* record = buffer.data() + at;
        unsigned short length = 0;
        std::memcpy(&length, record + 16, sizeof length);
        const auto type = static_cast<unsigned char>(record[18]);
        const std::string_view name(record + 19);
        if (name != "." && name != "..") {
          names.offsets.push_back(static_cast<std::uint32_t>(names.text.size()));
          names.types.push_back(type);
          names.text.insert(names.text.end(), name.begin(), name.end());
          names.text.push_back('\0');
        }
        at += length;
      }
    }
  }

  // --- the caller's side ---

  // Wait until `task` is done, running it on this thread when no thread has taken it yet, and
  // meanwhile running the soonest wanted pending task rather than sleeping: the caller's thread
  // is one more worker whenever the workers are behind.
  void
  wait(const std::shared_ptr<Task>& task)
  {
    std::unique_lock lock(mutex);
    for (;;) {
      if (task->state == TaskState::done) {
        return;
      }
      if (task->state == TaskState::pending || task->state == TaskState::deferred) {
        if (task->state == TaskState::pending) {
          take(task);
        } else {
          task->state = TaskState::running;
        }
        lock.unlock();
        run(*task, scratch);
        return;
      }
      if (!pending.empty() && buffered < k_max_buffered_items) {
        const auto other = take(pending.begin()->second);
        lock.unlock();
        run(*other, scratch);
        lock.lock();
        continue;
      }
      done.wait(lock);
    }
  }

  const WalkItem*
  next()
  {
    for (;;) {
      if (stopped || stack.empty()) {
        last = nullptr;
        return nullptr;
      }
      if (++asked % 16 == 0 && stopping()) {
        stopped = true;
        continue;
      }
      auto& frame = stack.back();
      if (!frame.ready) {
        wait(frame.node);
        frame.ready = true;
      }
      if (frame.node->stopped) {
        stopped = true;
        continue;
      }
      auto& items = frame.node->items;
      if (frame.next >= items.size()) {
        const bool node_stopped = frame.node->stopped;
        release(frame.node);
        stack.pop_back();
        if (node_stopped) {
          stopped = true;
        }
        continue;
      }
      Item& item = items[frame.next++];
      if (item.inside) {
        bool entered = false;
        if (item.child->deferred) {
          if (!options.enter || !options.enter(item.child->path)) {
            continue;
          }
          item.child->entered = entered = true;
        }
        wait(item.child);
        if (!item.child->problem.empty()) {
          if (!entered) {
            continue; // reported on the directory's own item
          }
          item.walked.observed = false;
          item.walked.contents = true;
          item.walked.problem = item.child->problem;
          last = &item;
          return &item.walked;
        }
        stack.push_back({item.child, true});
        continue;
      }
      if (item.child && !item.child->deferred) {
        // Wait for the listing here rather than at the marker, so a directory that cannot be
        // listed is reported at its own path, in order.
        wait(item.child);
        if (!item.child->problem.empty()) {
          item.walked.problem = item.child->problem;
        }
      }
      if (item.file) {
        wait(item.file);
        if (item.file->stopped) {
          stopped = true;
          continue;
        }
        if (item.file->digest) {
          item.walked.entry.sha256 = item.file->digest;
        } else {
          item.walked.observed = false;
          item.walked.problem = item.file->problem;
        }
        item.file.reset();
      }
      last = &item;
      return &item.walked;
    }
  }

  void
  release(const std::shared_ptr<Node>& node)
  {
    {
      const std::lock_guard lock(mutex);
      buffered -= std::min(buffered, node->items.size());
    }
    node->items.clear();
    node->items.shrink_to_fit();
    work.notify_all();
  }

  void
  stop_threads()
  {
    cancel = true;
    {
      const std::lock_guard lock(mutex);
      shutdown = true;
    }
    work.notify_all();
    for (auto& thread : threads) {
      if (thread.joinable()) {
        thread.join();
      }
    }
  }
};

unsigned
default_walk_workers()
{
  return std::max(1U, std::thread::hardware_concurrency());
}

TreeWalk::TreeWalk(std::unique_ptr<State> state)
    : m_state(std::move(state))
{}

TreeWalk::~TreeWalk()
{
  m_state->stop_threads();
}

util::Result<std::unique_ptr<TreeWalk>>
TreeWalk::open(const std::filesystem::path& root, WalkOptions options)
{
  // The root alone is opened following symlinks: /srv/app -> /srv/releases/42 is the usual shape.
  FdGuard fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) {
    const int error = errno;
    return util::make_error(
      error == EACCES ? util::Errc::permission : util::Errc::io,
      fmt::format("{}: cannot open the root directory: {}", root.string(), std::strerror(error)));
  }
  auto state = std::make_unique<State>();
  state->options = std::move(options);
  state->root = std::move(fd);
  auto node = std::make_shared<Node>();
  node->path = ".";
  node->key = "";
  state->root_node = node;
  state->stack.push_back({node, false});
  {
    const std::lock_guard lock(state->mutex);
    state->queue(node);
  }
  auto* raw = state.get();
  std::unique_ptr<TreeWalk> walk(new TreeWalk(std::move(state)));
  for (unsigned i = 0; i < raw->options.workers; ++i) {
    // A thread that cannot be started (pids.max, TasksMax, RLIMIT_NPROC) means fewer threads;
    // with none the caller's thread does the work.
    try {
      raw->threads.emplace_back([raw] { raw->work_loop(); });
    } catch (const std::system_error&) {
      break;
    }
  }
  return walk;
}

const WalkItem*
TreeWalk::next()
{
  return m_state->next();
}

util::Result<util::Sha256Digest>
TreeWalk::hash(const WalkItem& item)
{
  auto& state = *m_state;
  RG_TRY_ASSIGN(
    auto file,
    state.open_from_root(item.entry.path, O_RDONLY, item.entry.device, item.entry.inode));
  auto digest =
    util::sha256_fd(file.get(), state.scratch.buffer, state.scratch.hasher, 0, [&state] {
      return state.stopping();
    });
  if (digest) {
    ++state.hashed;
  }
  return digest;
}

bool
TreeWalk::stopped() const
{
  return m_state->stopped;
}

std::size_t
TreeWalk::hashed() const
{
  return m_state->hashed.load();
}

unsigned
TreeWalk::threads() const
{
  return static_cast<unsigned>(m_state->threads.size());
}

util::Result<WalkResult>
walk_tree(const std::filesystem::path& root, WalkOptions options)
{
  RG_TRY_ASSIGN(auto walk, TreeWalk::open(root, std::move(options)));
  WalkResult result;
  while (const auto* item = walk->next()) {
    if (!item->problem.empty()) {
      result.problems.push_back({item->entry.path, item->problem});
    }
    if (item->observed) {
      result.entries.push_back(item->entry);
    }
  }
  result.stopped = walk->stopped();
  result.hashed = walk->hashed();
  return result;
}

} // namespace checks::files
