#include "sha256.hpp"

#include "text.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>

namespace util {

namespace {

constexpr std::string_view k_hex_digits = "0123456789abcdef";

// SHA-256 fetched once: with OpenSSL 3 every EVP_DigestInit_ex on EVP_sha256() looks the
// algorithm up again under a lock, which hashing threads would contend on for every small file.
const EVP_MD*
sha256_md()
{
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md != nullptr ? md : EVP_sha256();
}

} // namespace

std::string
to_hex(const Sha256Digest& digest)
{
  std::string hex;
  hex.reserve(digest.size() * 2);
  for (const auto byte : digest) {
    hex.push_back(k_hex_digits[byte >> 4U]);
    hex.push_back(k_hex_digits[byte & 0x0fU]);
  }
  return hex;
}

std::optional<Sha256Digest>
sha256_from_hex(std::string_view hex)
{
  // A table: a manifest of a million files has a million digests to read.
  static const auto values = [] {
    std::array<std::int8_t, 256> table{};
    table.fill(-1);
    for (int c = 0; c < 256; ++c) {
      table[static_cast<std::size_t>(c)] =
        static_cast<std::int8_t>(util::hex_digit(static_cast<char>(c)));
    }
    return table;
  }();
  Sha256Digest digest{};
  if (hex.size() != digest.size() * 2) {
    return std::nullopt;
  }
  int bad = 0;
  for (std::size_t i = 0; i < digest.size(); ++i) {
    const int high = values[static_cast<unsigned char>(hex[2 * i])];
    const int low = values[static_cast<unsigned char>(hex[2 * i + 1])];
    bad |= high | low;
    digest[i] = static_cast<std::uint8_t>((high << 4) | (low & 0x0f));
  }
  if (bad < 0) {
    return std::nullopt;
  }
  return digest;
}

Sha256Hasher::Sha256Hasher()
    : m_context(EVP_MD_CTX_new())
{
  // Only allocation failure or a crippled OpenSSL get here: nothing a caller could handle.
  if (m_context == nullptr || EVP_DigestInit_ex(m_context, sha256_md(), nullptr) != 1) {
    EVP_MD_CTX_free(m_context);
    throw Fatal("openssl: cannot initialise sha256");
  }
}

Sha256Hasher::~Sha256Hasher()
{
  EVP_MD_CTX_free(m_context);
}

void
Sha256Hasher::update(std::string_view data)
{
  if (EVP_DigestUpdate(m_context, data.data(), data.size()) != 1) {
    throw Fatal("openssl: sha256 update failed");
  }
}

void
Sha256Hasher::update(std::span<const std::byte> data)
{
  if (EVP_DigestUpdate(m_context, data.data(), data.size()) != 1) {
    throw Fatal("openssl: sha256 update failed");
  }
}

Sha256Digest
Sha256Hasher::finish()
{
  Sha256Digest digest{};
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(m_context, digest.data(), &length) != 1 || length != digest.size()) {
    throw Fatal("openssl: sha256 final failed");
  }
  return digest;
}

void
Sha256Hasher::reset()
{
  if (EVP_DigestInit_ex(m_context, sha256_md(), nullptr) != 1) {
    throw Fatal("openssl: cannot initialise sha256");
  }
}

Sha256Digest
sha256(std::string_view data)
{
  Sha256Hasher hasher;
  hasher.update(data);
  return hasher.finish();
}

namespace {

// Hash what `fd` holds from `offset` to its end into `hasher`. pread with an explicit offset: a
// file position is shared state the kernel locks (fdget_pos) in a process with several threads.
Result<Sha256Digest>
hash_from(int fd,
          std::span<std::byte> buffer,
          Sha256Hasher& hasher,
          off_t offset,
          const std::function<bool()>& should_stop)
{
  for (;;) {
    if (should_stop && should_stop()) {
      return make_error(Errc::cancelled, "stopped while hashing");
    }
    const ssize_t count = ::pread(fd, buffer.data(), buffer.size(), offset);
    if (count < 0) {
      if (errno == EINTR) {
        continue;
      }
      const int saved = errno;
      return make_error(saved == EACCES || saved == EPERM ? Errc::permission : Errc::io,
                        fmt::format("read: {}", std::strerror(saved)));
    }
    if (count == 0) {
      return hasher.finish();
    }
    hasher.update(buffer.first(static_cast<std::size_t>(count)));
    offset += count;
  }
}

} // namespace

Result<Sha256Digest>
sha256_fd(int fd, std::span<std::byte> buffer, const std::function<bool()>& should_stop)
{
  if (buffer.empty()) {
    return make_error(Errc::internal, "sha256: empty read buffer");
  }
  // Only a hint: it doubles the kernel's read-ahead, and a failure changes nothing we rely on.
  (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  const off_t start = ::lseek(fd, 0, SEEK_CUR);
  Sha256Hasher hasher;
  if (start < 0) {
    // Not seekable (a pipe): read it as it comes.
    for (;;) {
      if (should_stop && should_stop()) {
        return make_error(Errc::cancelled, "stopped while hashing");
      }
      const ssize_t count = ::read(fd, buffer.data(), buffer.size());
      if (count < 0) {
        if (errno == EINTR) {
          continue;
        }
        const int saved = errno;
        return make_error(saved == EACCES || saved == EPERM ? Errc::permission : Errc::io,
                          fmt::format("read: {}", std::strerror(saved)));
      }
      if (count == 0) {
        return hasher.finish();
      }
      hasher.update(buffer.first(static_cast<std::size_t>(count)));
    }
  }
  return hash_from(fd, buffer, hasher, start, should_stop);
}

Result<Sha256Digest>
sha256_fd(int fd,
          std::span<std::byte> buffer,
          Sha256Hasher& hasher,
          std::size_t prefix,
          const std::function<bool()>& should_stop)
{
  if (buffer.empty() || prefix > buffer.size()) {
    return make_error(Errc::internal, "sha256: empty read buffer");
  }
  hasher.reset();
  if (prefix > 0) {
    hasher.update(buffer.first(prefix));
  }
  return hash_from(fd, buffer, hasher, static_cast<off_t>(prefix), should_stop);
}

} // namespace util
