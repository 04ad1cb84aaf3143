#include "sha256.hpp"

#include "text.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace util {

namespace {

constexpr std::string_view k_hex_digits = "0123456789abcdef";

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
  Sha256Digest digest{};
  if (hex.size() != digest.size() * 2) {
    return std::nullopt;
  }
  for (std::size_t i = 0; i < digest.size(); ++i) {
    const int high = util::hex_digit(hex[2 * i]);
    const int low = util::hex_digit(hex[2 * i + 1]);
    if (high < 0 || low < 0) {
      return std::nullopt;
    }
    digest[i] = static_cast<std::uint8_t>(high * 16 + low);
  }
  return digest;
}

Sha256Hasher::Sha256Hasher()
    : m_context(EVP_MD_CTX_new())
{
  // Only allocation failure or a crippled OpenSSL get here: nothing a caller could handle.
  if (m_context == nullptr || EVP_DigestInit_ex(m_context, EVP_sha256(), nullptr) != 1) {
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

Sha256Digest
sha256(std::string_view data)
{
  Sha256Hasher hasher;
  hasher.update(data);
  return hasher.finish();
}

Result<Sha256Digest>
sha256_fd(int fd, std::span<std::byte> buffer, const std::function<bool()>& should_stop)
{
  if (buffer.empty()) {
    return make_error(Errc::internal, "sha256: empty read buffer");
  }
  // Only a hint: it doubles the kernel's read-ahead, and a failure changes nothing we rely on.
  (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  Sha256Hasher hasher;
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

} // namespace util
