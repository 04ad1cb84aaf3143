#include "testutil.hpp"

#include <hook/util/sha256.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <string>
#include <vector>

namespace {

// 1.5 MiB + 5 bytes of a fixed pattern; its digest was computed with `sha256sum` over the
// same bytes written by python3.
std::string
pattern_content()
{
  std::string content;
  constexpr std::size_t k_size = 1572869;
  content.reserve(k_size);
  for (std::size_t i = 0; i < k_size; ++i) {
    content.push_back(static_cast<char>((i * 7 + i / 1000) % 251));
  }
  return content;
}

constexpr std::string_view k_pattern_sha256 =
  "dcb0e9f02cdbcda3fdc761138efd42304e6e88d19428d0a58bee7e915edfbdba";

class OpenFile
{
public:
  explicit OpenFile(const std::filesystem::path& path, int flags = O_RDONLY)
      : m_fd(::open(path.c_str(), flags | O_CLOEXEC))
  {
    REQUIRE(m_fd >= 0);
  }
  ~OpenFile() { ::close(m_fd); }
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;
  int
  fd() const
  {
    return m_fd;
  }

private:
  int m_fd;
};

} // namespace

TEST_CASE("util::sha256: known vectors", "[files]")
{
  CHECK(util::to_hex(util::sha256(""))
        == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(util::to_hex(util::sha256("abc"))
        == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(util::to_hex(util::sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))
        == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST_CASE("util::Sha256Hasher: updates in pieces equal one update", "[files]")
{
  util::Sha256Hasher hasher;
  hasher.update("a");
  hasher.update("");
  hasher.update("bc");
  CHECK(util::to_hex(hasher.finish()) == util::to_hex(util::sha256("abc")));
}

TEST_CASE("util::sha256_from_hex: round trip and rejects", "[files]")
{
  const auto digest = util::sha256("abc");
  const auto parsed = util::sha256_from_hex(util::to_hex(digest));
  REQUIRE(parsed);
  CHECK(*parsed == digest);
  const auto upper =
    util::sha256_from_hex("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD");
  REQUIRE(upper);
  CHECK(*upper == digest);
  CHECK_FALSE(util::sha256_from_hex(""));
  CHECK_FALSE(util::sha256_from_hex("ba7816bf"));
  CHECK_FALSE(
    util::sha256_from_hex("ga7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
  CHECK_FALSE(
    util::sha256_from_hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad0"));
}

TEST_CASE("util::sha256_fd: a 1.5 MiB file matches sha256sum, whatever the buffer size", "[files]")
{
  testutil::TempDir dir;
  const auto path = dir.path() / "big.bin";
  testutil::write_file(path, pattern_content());

  for (const std::size_t buffer_size :
       {std::size_t{256 * 1024}, std::size_t{4096}, std::size_t{7}}) {
    INFO("buffer " << buffer_size);
    std::vector<std::byte> buffer(buffer_size);
    const OpenFile file(path);
    const auto digest = util::sha256_fd(file.fd(), buffer);
    REQUIRE(digest);
    CHECK(util::to_hex(*digest) == k_pattern_sha256);
  }
}

TEST_CASE("util::sha256_fd: an empty file has the empty digest", "[files]")
{
  testutil::TempDir dir;
  testutil::write_file(dir.path() / "empty", "");
  std::vector<std::byte> buffer(64);
  const OpenFile file(dir.path() / "empty");
  const auto digest = util::sha256_fd(file.fd(), buffer);
  REQUIRE(digest);
  CHECK(*digest == util::sha256(""));
}

TEST_CASE("util::sha256_fd: stops between blocks when asked", "[files]")
{
  testutil::TempDir dir;
  testutil::write_file(dir.path() / "big.bin", pattern_content());
  std::vector<std::byte> buffer(64 * 1024);
  const OpenFile file(dir.path() / "big.bin");
  int asked = 0;
  const auto digest = util::sha256_fd(file.fd(), buffer, [&] { return ++asked > 3; });
  REQUIRE_FALSE(digest);
  CHECK(digest.error().code == util::Errc::cancelled);
  CHECK(asked == 4); // three blocks were read, then it stopped
}

TEST_CASE("util::sha256_fd: a read error is an io error naming the operation", "[files]")
{
  testutil::TempDir dir;
  std::vector<std::byte> buffer(64);
  const OpenFile directory(dir.path(), O_RDONLY | O_DIRECTORY);
  const auto digest = util::sha256_fd(directory.fd(), buffer);
  REQUIRE_FALSE(digest);
  CHECK(digest.error().code == util::Errc::io);
  CHECK(digest.error().message == "read: Is a directory");
}
