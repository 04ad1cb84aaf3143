#include "file.hpp"

#include "fd.hpp"

#include <fmt/format.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

namespace util {

namespace {

std::string_view
non_regular_name(mode_t mode)
{
  switch (mode & S_IFMT) {
  case S_IFDIR:
    return "a directory";
  case S_IFIFO:
    return "a fifo";
  case S_IFSOCK:
    return "a socket";
  case S_IFCHR:
    return "a character device";
  case S_IFBLK:
    return "a block device";
  default:
    return "not a regular file";
  }
}

// What the caller and the reading thread share; the thread may outlive the caller.
struct Reading
{
  std::mutex mutex;
  std::condition_variable_any done_changed;
  std::optional<Result<std::string>> outcome;
  bool abandoned = false;
};

Result<std::string>
read_now(const std::filesystem::path& path,
         std::size_t limit,
         Clock::time_point deadline,
         const std::shared_ptr<Reading>& reading)
{
  const auto shown = path.string();
  // O_NONBLOCK: a fifo must not wait for a writer; the fstat below then rejects it.
  const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!fd) {
    const int error = errno;
    return make_error(error == EACCES || error == EPERM ? Errc::permission : Errc::io,
                      fmt::format("{}: cannot open: {}", shown, std::strerror(error)));
  }
  struct stat info
  {
  };
  if (::fstat(fd.get(), &info) != 0) {
    return make_error(Errc::io, fmt::format("{}: fstat: {}", shown, std::strerror(errno)));
  }
  if (!S_ISREG(info.st_mode)) {
    return make_error(
      Errc::io,
      fmt::format("{}: {}, expected a regular file", shown, non_regular_name(info.st_mode)));
  }
  if (static_cast<std::uint64_t>(info.st_size) > limit) {
    return make_error(
      Errc::io,
      fmt::format(
        "{}: larger than the limit of {} ({} bytes)", shown, format_size(limit), info.st_size));
  }
  std::string text;
  text.reserve(static_cast<std::size_t>(info.st_size));
  char block[64 * 1024];
  for (;;) {
    {
      const std::lock_guard lock(reading->mutex);
      if (reading->abandoned) {
        return make_error(Errc::cancelled, fmt::format("{}: abandoned", shown));
      }
    }
    if (Clock::now() >= deadline) {
      return make_error(Errc::timeout, fmt::format("{}: not read in time", shown));
    }
    const ssize_t count = ::read(fd.get(), block, sizeof block);
    if (count < 0) {
      if (errno == EINTR || errno == EAGAIN) {
        continue;
      }
      return make_error(Errc::io, fmt::format("{}: read: {}", shown, std::strerror(errno)));
    }
    if (count == 0) {
      return text;
    }
    // The file may have grown since fstat: the limit holds for what is read, not what was stat'ed.
    if (text.size() + static_cast<std::size_t>(count) > limit) {
      return make_error(Errc::io,
                        fmt::format("{}: larger than the limit of {}", shown, format_size(limit)));
    }
    text.append(block, static_cast<std::size_t>(count));
  }
}

} // namespace

std::string
format_size(std::size_t bytes)
{
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) == 0) {
    return fmt::format("{} MiB", bytes / (1024 * 1024));
  }
  if (bytes >= 1024 && bytes % 1024 == 0) {
    return fmt::format("{} KiB", bytes / 1024);
  }
  return fmt::format("{} bytes", bytes);
}

Result<std::string>
read_small_file(const std::filesystem::path& path,
                std::size_t limit,
                Clock::time_point deadline,
                std::stop_token stop)
{
  auto reading = std::make_shared<Reading>();
  try {
    std::thread([reading, path, limit, deadline] {
      auto outcome = read_now(path, limit, deadline, reading);
      const std::lock_guard lock(reading->mutex);
      reading->outcome = std::move(outcome);
      reading->done_changed.notify_all();
    }).detach();
  } catch (const std::system_error&) {
    // No thread to spare: read here. The fstat and the non-blocking open still refuse a fifo or
    // a device; only a hung mount could then hold the caller.
    return read_now(path, limit, deadline, reading);
  }
  std::unique_lock lock(reading->mutex);
  reading->done_changed.wait_until(
    lock, stop, deadline, [&] { return reading->outcome.has_value(); });
  if (reading->outcome) {
    return std::move(*reading->outcome);
  }
  reading->abandoned = true;
  if (stop.stop_requested()) {
    return make_error(Errc::cancelled, fmt::format("{}: reading was cancelled", path.string()));
  }
  return make_error(Errc::timeout,
                    fmt::format("{}: not read in time (a hung mount?)", path.string()));
}

} // namespace util
