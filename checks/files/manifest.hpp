// The release manifest: a text file with one line per entry of an application tree, created at
// release time (`readygate manifest create`) and compared with the host by the files check.
//
//   #readygate-manifest 1
//   #exclude var/cache/**
//   #digest sha256:<64 hex>
//   . dir 0755 0 0 - - -
//   app/index.php file 0644 0 0 1234 <64 hex> -
//   current symlink 0777 0 0 10 - releases/42
//
// Fields are separated by single spaces: path type mode uid gid size sha256 target. Paths and
// targets are escaped (escape_field) so a line always splits on spaces. Entries are sorted by
// their raw (unescaped) path, bytewise, and unique. The digest is the SHA-256 of the #exclude
// lines and then the entry lines, each exactly as written with its trailing '\n' (the version
// line and the #digest line are not part of it), so a truncated or edited manifest is rejected.
#pragma once

#include <checks/files/entry.hpp>
#include <hook/util/result.hpp>
#include <hook/util/sha256.hpp>

#include <filesystem>
#include <istream>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace checks::files {

// --- Interface ---

inline constexpr std::string_view k_manifest_version_line = "#readygate-manifest 1";

struct Manifest
{
  std::vector<std::string> excludes; // globs the tree was walked without (raw)
  Entries entries;                   // sorted by path, unique
  util::Sha256Digest digest{};       // as recorded in (and verified against) #digest
};

// Return `raw` escaped for a manifest field: bytes <= 0x20, 0x7f, '%' and bytes >= 0x80 that
// are not part of a valid UTF-8 sequence become %XX (uppercase hex); "-" alone becomes "%2D".
std::string escape_field(std::string_view raw);

// Return `raw` for a report (a finding's subject or value): like escape_field, but spaces stay
// and "-" stays, so ordinary paths read as they are while control bytes never reach a terminal.
std::string escape_display(std::string_view raw);

// Return the raw bytes of the escaped field `escaped`; a bad %-escape or a byte that should
// have been escaped is an error. "-" (no value) is not accepted here.
util::Result<std::string> unescape_field(std::string_view escaped);

// Return the manifest line of `entry`, without its '\n'. `entry` of type file must have a sha256.
std::string format_entry(const Entry& entry);

// Return the digest over `excludes` and `entries` as defined above.
util::Sha256Digest manifest_digest(const std::vector<std::string>& excludes,
                                   const Entries& entries);

// Write the manifest of `entries` (sorted, unique) and `excludes` to `out`, with its header and
// digest.
void format_manifest(const std::vector<std::string>& excludes,
                     const Entries& entries,
                     std::ostream& out);

// Read a manifest from `in`; `name` (the file name) starts every error message
// ("files.manifest:12: ..."). Rejects an unknown version, a missing or mismatching digest, a
// line that does not parse, unsorted or duplicate paths, paths that are absolute or have an
// empty, "." or ".." component, and a manifest without the root entry ".".
util::Result<Manifest> parse_manifest(std::istream& in, std::string_view name);

// Read and parse the manifest file at `path`.
util::Result<Manifest> read_manifest(const std::filesystem::path& path);

// Walk `root` (never following a symlink inside it) and write its manifest to `out`, leaving
// out paths that match `excludes`. Any path that cannot be read is an error naming it.
util::Result<void> write_manifest(const std::filesystem::path& root,
                                  const std::vector<std::string>& excludes,
                                  std::ostream& out);

} // namespace checks::files
