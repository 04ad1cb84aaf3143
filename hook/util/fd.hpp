// The one owner of a file descriptor: closed when the owner goes away.
#pragma once

#include <unistd.h>

#include <utility>

namespace util {

// --- Interface ---

class UniqueFd
{
public:
  UniqueFd() = default;
  explicit UniqueFd(int fd)
      : m_fd(fd)
  {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept
      : m_fd(other.release())
  {}
  UniqueFd&
  operator=(UniqueFd&& other) noexcept
  {
    if (this != &other) {
      reset(other.release());
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int
  get() const
  {
    return m_fd;
  }
  explicit operator bool() const { return m_fd >= 0; }

  // Give up ownership and return the descriptor.
  int
  release()
  {
    return std::exchange(m_fd, -1);
  }

  // Close the descriptor held (if any) and own `fd` instead.
  void
  reset(int fd = -1)
  {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
    m_fd = fd;
  }

private:
  int m_fd = -1;
};

} // namespace util
