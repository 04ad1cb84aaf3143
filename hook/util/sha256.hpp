// SHA-256 through OpenSSL's EVP interface, streamed: memory does not grow with the input.
#pragma once

#include <hook/util/result.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

struct evp_md_ctx_st; // OpenSSL's EVP_MD_CTX, kept out of this header

namespace util {

// --- Interface ---

using Sha256Digest = std::array<std::uint8_t, 32>;

// Return `digest` as 64 lowercase hex digits.
std::string to_hex(const Sha256Digest& digest);

// Parse 64 hex digits (either case) into a digest; anything else gives nullopt.
std::optional<Sha256Digest> sha256_from_hex(std::string_view hex);

// An incremental SHA-256: update() any number of times, then finish() once.
class Sha256Hasher
{
public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;

  // Feed `data` into the digest.
  void update(std::string_view data);
  void update(std::span<const std::byte> data);
  // Return the digest of everything fed so far; the hasher is spent afterwards.
  Sha256Digest finish();
  // Start a new digest, reusing the context: hashing many small files should not allocate a
  // context for each one.
  void reset();

private:
  evp_md_ctx_st* m_context;
};

// Return the SHA-256 of `data`.
Sha256Digest sha256(std::string_view data);

// Return the SHA-256 of what `fd` yields from its current offset to end of file, reading through
// `buffer` (the caller owns and reuses it, so memory stays fixed whatever the file's size).
// `should_stop` is asked between blocks; when it says yes the result is an Errc::cancelled error.
// A read error is Errc::io (Errc::permission for EACCES/EPERM) with a message like "read: ...".
// The fd is neither closed nor rewound.
Result<Sha256Digest>
sha256_fd(int fd, std::span<std::byte> buffer, const std::function<bool()>& should_stop = {});

// Return the SHA-256 of the whole file `fd` (from its start, whatever its position), hashing
// with `hasher` (reset first, spent afterwards); the first `prefix` bytes of the file are already
// in `buffer`, read by the caller. Reads with pread, so threads never contend on the position.
Result<Sha256Digest> sha256_fd(int fd,
                               std::span<std::byte> buffer,
                               Sha256Hasher& hasher,
                               std::size_t prefix,
                               const std::function<bool()>& should_stop = {});

} // namespace util
