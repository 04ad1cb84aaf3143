#include "manifest.hpp"

#include <checks/files/tree_walk.hpp>
#include <hook/util/glob.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <thread>

namespace checks::files {

namespace {

constexpr std::string_view k_exclude_prefix = "#exclude ";
constexpr std::string_view k_digest_prefix = "#digest sha256:";
constexpr std::string_view k_upper_hex = "0123456789ABCDEF";
constexpr std::string_view k_path_rule = "(expected a path relative to the root, without ..)";

// Return the length of the valid UTF-8 sequence starting at `text[i]` (a byte >= 0x80), or 0.
// Overlong forms, surrogates and code points above U+10FFFF are not valid.
std::size_t
utf8_sequence_length(std::string_view text, std::size_t i)
{
  const auto byte = [&](std::size_t at) { return static_cast<unsigned char>(text[at]); };
  const unsigned char lead = byte(i);
  std::size_t length = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    low = lead == 0xe0 ? 0xa0 : 0x80;
    high = lead == 0xed ? 0x9f : 0xbf;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    low = lead == 0xf0 ? 0x90 : 0x80;
    high = lead == 0xf4 ? 0x8f : 0xbf;
  } else {
    return 0;
  }
  if (i + length > text.size()) {
    return 0;
  }
  if (byte(i + 1) < low || byte(i + 1) > high) {
    return 0;
  }
  for (std::size_t k = 2; k < length; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xbf) {
      return 0;
    }
  }
  return length;
}

int
hex_digit(char c)
{
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  return -1;
}

template <typename T>
bool
parse_decimal(std::string_view text, T& value)
{
  if (text.empty() || text.size() > 20) {
    return false;
  }
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value, 10);
  return ec == std::errc() && ptr == end;
}

std::vector<std::string_view>
split_spaces(std::string_view line)
{
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  for (;;) {
    const auto space = line.find(' ', start);
    fields.push_back(line.substr(start, space == std::string_view::npos ? space : space - start));
    if (space == std::string_view::npos) {
      return fields;
    }
    start = space + 1;
  }
}

// Return "" when `path` may name an entry under the root, or why it may not.
std::string
path_problem(std::string_view path)
{
  if (path == ".") {
    return {};
  }
  if (path.front() == '/') {
    return "is absolute";
  }
  if (path.find('\0') != std::string_view::npos) {
    return "contains a NUL byte";
  }
  std::size_t start = 0;
  for (;;) {
    const auto slash = path.find('/', start);
    const auto component =
      path.substr(start, slash == std::string_view::npos ? slash : slash - start);
    if (component.empty()) {
      return "has an empty component";
    }
    if (component == "..") {
      return "has a \"..\" component";
    }
    if (component == ".") {
      return "has a \".\" component";
    }
    if (slash == std::string_view::npos) {
      return {};
    }
    start = slash + 1;
  }
}

// Parse the entry line `line`; errors are plain messages the caller prefixes with its position.
util::Result<Entry>
parse_entry(std::string_view line)
{
  const auto bad = [](std::string message) {
    return util::make_error(util::Errc::config, std::move(message));
  };
  const auto fields = split_spaces(line);
  if (fields.size() != 8) {
    return bad(fmt::format("expected 8 space-separated fields (path type mode uid gid size sha256 "
                           "target), found {}",
                           fields.size()));
  }
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (fields[i].empty()) {
      return bad(fmt::format("field {} is empty", i + 1));
    }
  }
  Entry entry;
  auto path = unescape_field(fields[0]);
  if (!path || fields[0] == "-") {
    return bad(fmt::format("path \"{}\": {}", fields[0], path ? "no path" : path.error().message));
  }
  entry.path = std::move(*path);
  if (const auto problem = path_problem(entry.path); !problem.empty()) {
    return bad(fmt::format("path \"{}\" {} {}", fields[0], problem, k_path_rule));
  }
  const auto type = entry_type_from_name(fields[1]);
  if (!type) {
    return bad(fmt::format("path \"{}\": unknown type \"{}\" (expected file, dir, symlink, fifo, "
                           "socket, char or block)",
                           fields[0],
                           fields[1]));
  }
  entry.type = *type;
  const auto mode = fields[2];
  if (mode.size() != 4
      || !std::all_of(mode.begin(), mode.end(), [](char c) { return c >= '0' && c <= '7'; })) {
    return bad(fmt::format(
      "path \"{}\": bad mode \"{}\" (expected 4 octal digits such as 0644)", fields[0], mode));
  }
  std::from_chars(mode.data(), mode.data() + mode.size(), entry.mode, 8);
  if (!parse_decimal(fields[3], entry.uid) || !parse_decimal(fields[4], entry.gid)) {
    return bad(fmt::format("path \"{}\": bad owner \"{}:{}\" (expected decimal uid and gid)",
                           fields[0],
                           fields[3],
                           fields[4]));
  }
  const bool has_size = entry.type == EntryType::file || entry.type == EntryType::symlink;
  if (has_size ? !parse_decimal(fields[5], entry.size) : fields[5] != "-") {
    return bad(fmt::format("path \"{}\": bad size \"{}\" (expected {} for a {})",
                           fields[0],
                           fields[5],
                           has_size ? "a decimal number of bytes" : "\"-\"",
                           entry_type_name(entry.type)));
  }
  if (entry.type == EntryType::file) {
    const auto hex = fields[6];
    const bool lower =
      std::none_of(hex.begin(), hex.end(), [](char c) { return c >= 'A' && c <= 'F'; });
    entry.sha256 = util::sha256_from_hex(hex);
    if (!entry.sha256 || !lower) {
      return bad(fmt::format(
        "path \"{}\": bad sha256 \"{}\" (expected 64 lowercase hex digits)", fields[0], hex));
    }
  } else if (fields[6] != "-") {
    return bad(fmt::format(
      "path \"{}\": a {} has no sha256 (expected \"-\")", fields[0], entry_type_name(entry.type)));
  }
  if (entry.type == EntryType::symlink) {
    auto target = unescape_field(fields[7]);
    if (!target || fields[7] == "-") {
      return bad(fmt::format("path \"{}\": bad symlink target \"{}\"{}",
                             fields[0],
                             fields[7],
                             target ? "" : ": " + target.error().message));
    }
    entry.target = std::move(*target);
    if (entry.target.size() != entry.size) {
      return bad(fmt::format("path \"{}\": size {} does not match the target's length {}",
                             fields[0],
                             entry.size,
                             entry.target.size()));
    }
  } else if (fields[7] != "-") {
    return bad(fmt::format(
      "path \"{}\": a {} has no target (expected \"-\")", fields[0], entry_type_name(entry.type)));
  }
  return entry;
}

std::string escape_bytes(std::string_view raw, bool keep_space);

std::string
exclude_line(const std::string& glob)
{
  return fmt::format("{}{}", k_exclude_prefix, escape_field(glob));
}

} // namespace

std::string_view
entry_type_name(EntryType type)
{
  switch (type) {
  case EntryType::file:
    return "file";
  case EntryType::dir:
    return "dir";
  case EntryType::symlink:
    return "symlink";
  case EntryType::fifo:
    return "fifo";
  case EntryType::socket:
    return "socket";
  case EntryType::char_device:
    return "char";
  case EntryType::block_device:
    return "block";
  }
  return "file";
}

std::optional<EntryType>
entry_type_from_name(std::string_view name)
{
  for (const auto type : {EntryType::file,
                          EntryType::dir,
                          EntryType::symlink,
                          EntryType::fifo,
                          EntryType::socket,
                          EntryType::char_device,
                          EntryType::block_device}) {
    if (entry_type_name(type) == name) {
      return type;
    }
  }
  return std::nullopt;
}

namespace {

std::string
escape_bytes(std::string_view raw, bool keep_space)
{
  std::string escaped;
  escaped.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size();) {
    const auto c = static_cast<unsigned char>(raw[i]);
    if (c >= 0x80) {
      if (const auto length = utf8_sequence_length(raw, i); length != 0) {
        escaped.append(raw.substr(i, length));
        i += length;
        continue;
      }
    }
    if ((c <= 0x20 && !(keep_space && c == ' ')) || c == 0x7f || c == '%' || c >= 0x80) {
      escaped.push_back('%');
      escaped.push_back(k_upper_hex[c >> 4U]);
      escaped.push_back(k_upper_hex[c & 0x0fU]);
    } else {
      escaped.push_back(static_cast<char>(c));
    }
    ++i;
  }
  return escaped;
}

} // namespace

std::string
escape_field(std::string_view raw)
{
  return raw == "-" ? std::string("%2D") : escape_bytes(raw, false);
}

std::string
escape_display(std::string_view raw)
{
  return escape_bytes(raw, true);
}

util::Result<std::string>
unescape_field(std::string_view escaped)
{
  if (escaped.empty()) {
    return util::make_error(util::Errc::config, "empty field");
  }
  std::string raw;
  raw.reserve(escaped.size());
  for (std::size_t i = 0; i < escaped.size(); ++i) {
    const auto c = static_cast<unsigned char>(escaped[i]);
    if (c == '%') {
      if (i + 2 >= escaped.size() || hex_digit(escaped[i + 1]) < 0
          || hex_digit(escaped[i + 2]) < 0) {
        return util::make_error(util::Errc::config,
                                fmt::format("bad escape at byte {} (expected %XX)", i + 1));
      }
      raw.push_back(static_cast<char>(hex_digit(escaped[i + 1]) * 16 + hex_digit(escaped[i + 2])));
      i += 2;
    } else if (c <= 0x20 || c == 0x7f) {
      return util::make_error(util::Errc::config,
                              fmt::format("unescaped control byte 0x{:02X} at byte {}", c, i + 1));
    } else {
      raw.push_back(static_cast<char>(c));
    }
  }
  return raw;
}

std::string
format_entry(const Entry& entry)
{
  const bool has_size = entry.type == EntryType::file || entry.type == EntryType::symlink;
  return fmt::format(
    "{} {} {:04o} {} {} {} {} {}",
    escape_field(entry.path),
    entry_type_name(entry.type),
    entry.mode,
    entry.uid,
    entry.gid,
    has_size ? std::to_string(entry.size) : std::string("-"),
    entry.type == EntryType::file && entry.sha256 ? util::to_hex(*entry.sha256) : std::string("-"),
    entry.type == EntryType::symlink ? escape_field(entry.target) : std::string("-"));
}

util::Sha256Digest
manifest_digest(const std::vector<std::string>& excludes, const Entries& entries)
{
  util::Sha256Hasher hasher;
  for (const auto& glob : excludes) {
    hasher.update(exclude_line(glob));
    hasher.update("\n");
  }
  for (const auto& entry : entries) {
    hasher.update(format_entry(entry));
    hasher.update("\n");
  }
  return hasher.finish();
}

void
format_manifest(const std::vector<std::string>& excludes, const Entries& entries, std::ostream& out)
{
  // Entries are formatted twice (digest, then output) rather than kept: memory stays at one line.
  out << k_manifest_version_line << '\n';
  for (const auto& glob : excludes) {
    out << exclude_line(glob) << '\n';
  }
  out << k_digest_prefix << util::to_hex(manifest_digest(excludes, entries)) << '\n';
  for (const auto& entry : entries) {
    out << format_entry(entry) << '\n';
  }
}

util::Result<Manifest>
parse_manifest(std::istream& in, std::string_view name)
{
  const auto bad = [&](std::size_t line, std::string_view message) {
    return util::make_error(util::Errc::config, fmt::format("{}:{}: {}", name, line, message));
  };
  Manifest manifest;
  util::Sha256Hasher hasher;
  std::optional<util::Sha256Digest> recorded;
  std::string line;
  std::size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (in.eof()) {
      return bad(number, "the last line has no newline (truncated manifest?)");
    }
    if (number == 1) {
      if (line != k_manifest_version_line) {
        if (line.starts_with("#readygate-manifest ")) {
          return bad(number,
                     fmt::format("unsupported manifest version \"{}\" (expected 1)",
                                 line.substr(std::string_view("#readygate-manifest ").size())));
        }
        return bad(
          number,
          fmt::format("not a readygate manifest (expected \"{}\")", k_manifest_version_line));
      }
      continue;
    }
    if (line.starts_with('#')) {
      if (recorded) {
        return bad(number, "header line after #digest (headers come before the entries)");
      }
      if (line.starts_with(k_exclude_prefix)) {
        auto glob = unescape_field(std::string_view(line).substr(k_exclude_prefix.size()));
        if (!glob) {
          return bad(number, "#exclude: " + glob.error().message);
        }
        manifest.excludes.push_back(std::move(*glob));
        hasher.update(line);
        hasher.update("\n");
        continue;
      }
      if (line.starts_with(k_digest_prefix)) {
        const auto hex = std::string_view(line).substr(k_digest_prefix.size());
        recorded = util::sha256_from_hex(hex);
        if (!recorded) {
          return bad(number, "#digest: expected sha256: and 64 hex digits");
        }
        continue;
      }
      return bad(number, fmt::format("unknown header line \"{}\"", line));
    }
    if (!recorded) {
      return bad(number, "missing #digest line before the entries");
    }
    auto entry = parse_entry(line);
    if (!entry) {
      return bad(number, entry.error().message);
    }
    if (!manifest.entries.empty() && entry->path <= manifest.entries.back().path) {
      return bad(
        number,
        fmt::format("path \"{}\" {} (entries must be sorted by path, bytewise, and unique)",
                    escape_field(entry->path),
                    entry->path == manifest.entries.back().path ? "is a duplicate"
                                                                : "is out of order"));
    }
    hasher.update(line);
    hasher.update("\n");
    manifest.entries.push_back(std::move(*entry));
  }
  if (in.bad()) {
    return util::make_error(util::Errc::io, fmt::format("{}: read error", name));
  }
  if (number == 0) {
    return bad(1, fmt::format("empty file (expected \"{}\")", k_manifest_version_line));
  }
  if (!recorded) {
    return bad(number, "missing #digest line");
  }
  const auto actual = hasher.finish();
  if (actual != *recorded) {
    return util::make_error(
      util::Errc::config,
      fmt::format("{}: digest mismatch: #digest says sha256:{}, the content has sha256:{} "
                  "(truncated or edited manifest)",
                  name,
                  util::to_hex(*recorded),
                  util::to_hex(actual)));
  }
  // Every walk records the root; a manifest without it (or without any entry) would check
  // nothing, and with allow_extra = ["**"] admit any tree.
  if (find_if(manifest.entries.begin(),
              manifest.entries.end(),
              [](const Entry& e) { return e.path == "."; })
      == manifest.entries.end()) {
    return util::make_error(
      util::Errc::config,
      fmt::format("{}: no entry for the root \".\" (every manifest lists the root directory)",
                  name));
  }
  manifest.digest = actual;
  return manifest;
}

util::Result<Manifest>
read_manifest(const std::filesystem::path& path)
{
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int error = errno;
    return util::make_error(
      error == EACCES ? util::Errc::permission : util::Errc::io,
      fmt::format("{}: cannot read the manifest: {}", path.string(), std::strerror(error)));
  }
  return parse_manifest(in, path.string());
}

util::Result<void>
write_manifest(const std::filesystem::path& root,
               const std::vector<std::string>& excludes,
               std::ostream& out)
{
  for (const auto& glob : excludes) {
    if (glob.empty() || glob.front() == '/') {
      return util::make_error(
        util::Errc::usage,
        fmt::format("--exclude \"{}\": expected a glob relative to the root", glob));
    }
  }
  WalkOptions options;
  options.skip = [&](std::string_view path) { return util::glob_match_any(excludes, path); };
  options.want_sha256 = [](const Entry&) { return true; };
  options.workers = std::max(1U, std::thread::hardware_concurrency());
  RG_TRY_ASSIGN(const auto walk, walk_tree(root, options));
  if (!walk.problems.empty()) {
    std::vector<std::string> listed;
    constexpr std::size_t k_listed = 10;
    for (std::size_t i = 0; i < walk.problems.size() && i < k_listed; ++i) {
      listed.push_back(
        fmt::format("{} ({})", escape_field(walk.problems[i].path), walk.problems[i].message));
    }
    return util::make_error(util::Errc::io,
                            fmt::format("{}: {} path{} could not be read: {}{}",
                                        root.string(),
                                        walk.problems.size(),
                                        walk.problems.size() == 1 ? "" : "s",
                                        fmt::join(listed, ", "),
                                        walk.problems.size() > k_listed ? ", ..." : ""));
  }
  format_manifest(excludes, walk.entries, out);
  out.flush();
  if (!out) {
    return util::make_error(util::Errc::io, "cannot write the manifest");
  }
  return {};
}

} // namespace checks::files
