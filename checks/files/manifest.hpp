// The release manifest: a text file with one line per entry of an application tree, created at
// release time (`readygate manifest create`) and compared with the host by the files check.
//
//   #readygate-manifest 2
//   #exclude var/cache/**
//   #digest sha256:<64 hex>
//   . dir 0755 0 0 - - -
//   app/index.php file 0644 0 0 1234 <64 hex> -
//   current symlink 0777 0 0 10 - releases/42
//   dev/null char 0666 0 0 - - 1:3
//
// Fields are separated by single spaces: path type mode uid gid size sha256 target. Paths and
// targets are escaped (escape_field) so a line always splits on spaces and never starts with
// '#'. Entries are sorted by their raw (unescaped) path, bytewise, and unique. The digest is the
// SHA-256 of the #exclude lines and then the entry lines, each exactly as written with its
// trailing '\n' (the version line and the #digest line are not part of it), so a truncated or
// edited manifest is rejected.
//
// Version 2 adds the device number of char and block entries (`major:minor` in the target
// field) and writes a path starting with '#' as %23. Version 1 manifests are still read; one
// with a char or block entry is rejected, since it cannot say which device was released.
//
// Reading streams: memory does not grow with the number of entries, and the digest (and the
// presence of the root entry) is known to be right only when next() has returned the end.
#pragma once

#include <checks/files/entry.hpp>
#include <hook/util/result.hpp>
#include <hook/util/sha256.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <istream>
#include <memory>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace checks::files {

// --- Interface ---

inline constexpr unsigned k_manifest_version = 2;
inline constexpr std::string_view k_manifest_version_line = "#readygate-manifest 2";
// A manifest larger than this is rejected before it is read (about 7 million entries): a
// runaway or hostile file must not keep a boot busy.
inline constexpr std::uint64_t k_max_manifest_bytes = std::uint64_t{1} << 30;
// The longest line: an escaped path of the longest walkable length (k_max_walk_path, each byte
// at most 3 after escaping) and a symlink target of PATH_MAX fit with room to spare.
inline constexpr std::size_t k_max_manifest_line = 64 * 1024;

struct Manifest
{
  std::vector<std::string> excludes; // globs the tree was walked without (raw)
  Entries entries;                   // sorted by path, unique
  util::Sha256Digest digest{};       // as recorded in (and verified against) #digest
};

// Return `raw` escaped for a manifest field: bytes <= 0x20, 0x7f, '%' and bytes >= 0x80 that
// are not part of a valid UTF-8 sequence become %XX (uppercase hex); "-" alone becomes "%2D"
// and a leading '#' becomes "%23" (a line starting with '#' is a header).
std::string escape_field(std::string_view raw);

// Return `raw` for a report (a finding's subject or value): like escape_field, but spaces stay
// and "-" stays, so ordinary paths read as they are while control bytes never reach a terminal.
std::string escape_display(std::string_view raw);

// Return the raw bytes of the escaped field `escaped`; a bad %-escape or a byte that should
// have been escaped is an error. "-" (no value) is not accepted here.
util::Result<std::string> unescape_field(std::string_view escaped);

// Return the manifest line of `entry`, without its '\n'. `entry` of type file must have a sha256.
std::string format_entry(const Entry& entry);

// Return "major:minor" of the device number `rdev`.
std::string device_text(std::uint64_t rdev);

// Return the digest over `excludes` and `entries` as defined above.
util::Sha256Digest manifest_digest(const std::vector<std::string>& excludes,
                                   const Entries& entries);

// Write the manifest of `entries` (sorted, unique) and `excludes` to `out`, with its header and
// digest.
void format_manifest(const std::vector<std::string>& excludes,
                     const Entries& entries,
                     std::ostream& out);

// Reads a manifest one entry at a time, checking every line as it comes: version, headers,
// fields, escapes, order and uniqueness, and at the end the digest and the root entry. Every
// error message starts with the manifest's name and the line ("files.manifest:12: ...").
class ManifestReader
{
public:
  // Read up to span.size() bytes into the span; 0 at the end of the input.
  using Source = std::function<util::Result<std::size_t>(std::span<char>)>;

  // Open the manifest file `path` and read its header. The path may be a symlink, but what it
  // names must be a regular file of at most k_max_manifest_bytes: it is opened non-blocking, so a
  // fifo or a device is rejected, never waited on or read forever. `should_stop` is asked
  // between blocks; when it says yes reading ends with an Errc::cancelled error.
  static util::Result<std::unique_ptr<ManifestReader>> open(const std::filesystem::path& path,
                                                            std::function<bool()> should_stop = {});

  // Read the header of the manifest that `source` yields; `name` starts every error message.
  static util::Result<std::unique_ptr<ManifestReader>> from_source(std::string name, Source source);

  ~ManifestReader();
  ManifestReader(const ManifestReader&) = delete;
  ManifestReader& operator=(const ManifestReader&) = delete;

  // Return the next entry (valid until the next call), or nullptr at the end once the digest
  // matched and the root entry was seen. Any problem is an error, also at the very end.
  util::Result<const Entry*> next();

  unsigned
  version() const
  {
    return m_version;
  }
  const std::vector<std::string>&
  excludes() const
  {
    return m_excludes;
  }
  // As #digest records it; it is the digest of the content only once next() returned nullptr.
  const util::Sha256Digest&
  digest() const
  {
    return m_recorded;
  }
  // st_dev and st_ino of the opened file; 0 for a source.
  std::uint64_t
  device() const
  {
    return m_device;
  }
  std::uint64_t
  inode() const
  {
    return m_inode;
  }

private:
  ManifestReader(std::string name, Source source);

  util::Result<void> read_header();
  // Return the next line without its '\n', or nullopt at the end of the input.
  util::Result<std::optional<std::string_view>> next_line();
  util::Error bad(std::string_view message) const;

  std::string m_name;
  Source m_source;
  std::vector<char> m_buffer;
  std::size_t m_begin = 0;
  std::size_t m_end = 0;
  bool m_eof = false;
  std::size_t m_line = 0;
  unsigned m_version = 0;
  std::vector<std::string> m_excludes;
  util::Sha256Digest m_recorded{};
  util::Sha256Hasher m_hasher;
  std::optional<std::string> m_pending; // the first entry line, read while looking for headers
  Entry m_entry;
  Entry m_spare;
  bool m_have_entry = false;
  bool m_seen_root = false;
  bool m_done = false;
  std::uint64_t m_device = 0;
  std::uint64_t m_inode = 0;
};

// Read all of a manifest from `in`; `name` (the file name) starts every error message
// ("files.manifest:12: ..."). Rejects an unknown version, a missing or mismatching digest, a
// line that does not parse, unsorted or duplicate paths, paths that are absolute or have an
// empty, "." or ".." component, and a manifest without the root entry ".".
util::Result<Manifest> parse_manifest(std::istream& in, std::string_view name);

// Read and parse all of the manifest file at `path` (as ManifestReader::open does).
util::Result<Manifest> read_manifest(const std::filesystem::path& path);

// Writes a manifest one entry at a time. The #digest line comes before the entries, so the
// digest is only known at the end: the caller writes header_with(placeholder) first and patches
// the digest in, or keeps the entries aside until then.
class ManifestWriter
{
public:
  explicit ManifestWriter(std::vector<std::string> excludes);

  // Return the header lines (version, #exclude, #digest with `digest`), each with its '\n'.
  std::string header(const util::Sha256Digest& digest) const;
  // Return the byte offset of the digest's hex digits within header().
  std::size_t digest_offset() const;
  // Return the line of `entry` with its '\n' and add it to the digest. Entries come sorted.
  std::string line(const Entry& entry);
  // Return the digest of everything added; once.
  util::Sha256Digest finish();

private:
  std::vector<std::string> m_excludes;
  util::Sha256Hasher m_hasher;
};

// Walk `root` (never following a symlink inside it) with `workers` threads and write its
// manifest to the file descriptor `out`, leaving out paths that match `excludes`. Any path that
// cannot be read is an error naming it, and nothing is left in `out`. Memory does not grow with
// the tree: when `out` is a regular file the entries go straight to it and the digest is written
// into the header at the end; otherwise they are kept in an unlinked temporary file meanwhile.
util::Result<void> write_manifest(const std::filesystem::path& root,
                                  const std::vector<std::string>& excludes,
                                  int out,
                                  unsigned workers = 0);

// As above, to a stream (through a temporary file).
util::Result<void> write_manifest(const std::filesystem::path& root,
                                  const std::vector<std::string>& excludes,
                                  std::ostream& out,
                                  unsigned workers = 0);

} // namespace checks::files
