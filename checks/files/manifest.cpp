#include "manifest.hpp"

#include <hook/util/text.hpp>

#include <checks/files/tree_walk.hpp>
#include <hook/util/glob.hpp>

#include <fmt/format.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
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

// Split `line` at single spaces into `fields`; return how many there are (at most 9: one past
// what an entry has is enough to reject the line).
std::size_t
split_spaces(std::string_view line, std::array<std::string_view, 9>& fields)
{
  std::size_t count = 0;
  std::size_t start = 0;
  for (;;) {
    const auto space = line.find(' ', start);
    if (count == fields.size()) {
      return count + 1;
    }
    fields[count++] = line.substr(start, space == std::string_view::npos ? space : space - start);
    if (space == std::string_view::npos) {
      return count;
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

util::Result<void> unescape_into(std::string_view escaped, std::string& raw);

// Parse the entry line `line` into `entry` (its strings' memory is reused: a manifest of a
// million lines is not a million allocations); errors are plain messages the caller prefixes
// with its position.
util::Result<void>
parse_entry(std::string_view line, unsigned version, Entry& entry)
{
  const auto bad = [](std::string message) {
    return util::make_error(util::Errc::config, std::move(message));
  };
  std::array<std::string_view, 9> fields;
  const auto count = split_spaces(line, fields);
  if (count != 8) {
    return bad(
      fmt::format("expected 8 space-separated fields (path type mode uid gid size sha256 "
                  "target), found {}",
                  count == fields.size() + 1
                    ? static_cast<std::size_t>(std::count(line.begin(), line.end(), ' ')) + 1
                    : count));
  }
  for (std::size_t i = 0; i < 8; ++i) {
    if (fields[i].empty()) {
      return bad(fmt::format("field {} is empty", i + 1));
    }
  }
  entry.sha256.reset();
  entry.target.clear();
  entry.size = 0;
  entry.rdev = 0;
  auto path = unescape_into(fields[0], entry.path);
  if (!path || fields[0] == "-") {
    return bad(fmt::format("path \"{}\": {}", fields[0], path ? "no path" : path.error().message));
  }
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
    auto target = unescape_into(fields[7], entry.target);
    if (!target || fields[7] == "-") {
      return bad(fmt::format("path \"{}\": bad symlink target \"{}\"{}",
                             fields[0],
                             fields[7],
                             target ? "" : ": " + target.error().message));
    }
    if (entry.target.size() != entry.size) {
      return bad(fmt::format("path \"{}\": size {} does not match the target's length {}",
                             fields[0],
                             entry.size,
                             entry.target.size()));
    }
  } else if (entry.type == EntryType::char_device || entry.type == EntryType::block_device) {
    if (version < 2) {
      return bad(fmt::format("path \"{}\": a version 1 manifest records no device numbers, so "
                             "this {} cannot be checked (create the manifest again)",
                             fields[0],
                             entry_type_name(entry.type)));
    }
    const auto colon = fields[7].find(':');
    std::uint32_t major_number = 0;
    std::uint32_t minor_number = 0;
    if (colon == std::string_view::npos || !parse_decimal(fields[7].substr(0, colon), major_number)
        || !parse_decimal(fields[7].substr(colon + 1), minor_number)) {
      return bad(fmt::format(
        "path \"{}\": bad device number \"{}\" (expected major:minor)", fields[0], fields[7]));
    }
    entry.rdev = makedev(major_number, minor_number);
  } else if (fields[7] != "-") {
    return bad(fmt::format(
      "path \"{}\": a {} has no target (expected \"-\")", fields[0], entry_type_name(entry.type)));
  }
  return {};
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
  if (raw == "-") {
    return "%2D";
  }
  // A line starting with '#' is a header: "#notes" as the first field would end the entries.
  if (!raw.empty() && raw.front() == '#') {
    return "%23" + escape_bytes(raw.substr(1), false);
  }
  return escape_bytes(raw, false);
}

std::string
escape_display(std::string_view raw)
{
  return escape_bytes(raw, true);
}

namespace {

util::Result<void>
unescape_into(std::string_view escaped, std::string& raw)
{
  if (escaped.empty()) {
    return util::make_error(util::Errc::config, "empty field");
  }
  raw.clear();
  for (std::size_t i = 0; i < escaped.size(); ++i) {
    const auto c = static_cast<unsigned char>(escaped[i]);
    if (c == '%') {
      if (i + 2 >= escaped.size() || util::hex_digit(escaped[i + 1]) < 0
          || util::hex_digit(escaped[i + 2]) < 0) {
        return util::make_error(util::Errc::config,
                                fmt::format("bad escape at byte {} (expected %XX)", i + 1));
      }
      raw.push_back(static_cast<char>(util::hex_digit(escaped[i + 1]) * 16 + util::hex_digit(escaped[i + 2])));
      i += 2;
    } else if (c <= 0x20 || c == 0x7f) {
      return util::make_error(util::Errc::config,
                              fmt::format("unescaped control byte 0x{:02X} at byte {}", c, i + 1));
    } else {
      raw.push_back(static_cast<char>(c));
    }
  }
  return {};
}

} // namespace

util::Result<std::string>
unescape_field(std::string_view escaped)
{
  std::string raw;
  RG_TRY(unescape_into(escaped, raw));
  return raw;
}

std::string
device_text(std::uint64_t rdev)
{
  return fmt::format("{}:{}", major(rdev), minor(rdev));
}

std::string
format_entry(const Entry& entry)
{
  const bool has_size = entry.type == EntryType::file || entry.type == EntryType::symlink;
  const bool device = entry.type == EntryType::char_device || entry.type == EntryType::block_device;
  return fmt::format("{} {} {:04o} {} {} {} {} {}",
                     escape_field(entry.path),
                     entry_type_name(entry.type),
                     entry.mode,
                     entry.uid,
                     entry.gid,
                     has_size ? std::to_string(entry.size) : std::string("-"),
                     entry.type == EntryType::file && entry.sha256 ? util::to_hex(*entry.sha256)
                                                                   : std::string("-"),
                     entry.type == EntryType::symlink ? escape_field(entry.target)
                     : device                         ? device_text(entry.rdev)
                                                      : std::string("-"));
}

void
format_manifest(const std::vector<std::string>& excludes, const Entries& entries, std::ostream& out)
{
  ManifestWriter writer(excludes);
  std::string body;
  for (const auto& entry : entries) {
    body += writer.line(entry);
  }
  out << writer.header(writer.finish()) << body;
}

util::Sha256Digest
manifest_digest(const std::vector<std::string>& excludes, const Entries& entries)
{
  ManifestWriter writer(excludes);
  for (const auto& entry : entries) {
    writer.line(entry);
  }
  return writer.finish();
}

// --- ManifestReader ---

namespace {

// Read blocks this large: few syscalls, and a line of k_max_manifest_line always fits.
constexpr std::size_t k_read_block = 1024 * 1024;

std::string
version_text(std::string_view line)
{
  return std::string(line.substr(std::string_view("#readygate-manifest ").size()));
}

} // namespace

ManifestReader::ManifestReader(std::string name, Source source)
    : m_name(std::move(name)),
      m_source(std::move(source)),
      m_buffer(k_read_block + k_max_manifest_line + 1)
{}

ManifestReader::~ManifestReader() = default;

util::Error
ManifestReader::bad(std::string_view message) const
{
  return util::make_error(
    util::Errc::config,
    fmt::format("{}:{}: {}", m_name, std::max<std::size_t>(m_line, 1), message));
}

util::Result<std::unique_ptr<ManifestReader>>
ManifestReader::from_source(std::string name, Source source)
{
  std::unique_ptr<ManifestReader> reader(new ManifestReader(std::move(name), std::move(source)));
  RG_TRY(reader->read_header());
  return reader;
}

util::Result<std::unique_ptr<ManifestReader>>
ManifestReader::open(const std::filesystem::path& path, std::function<bool()> should_stop)
{
  const auto name = path.string();
  const auto cannot = [&](int error) {
    return util::make_error(
      error == EACCES || error == EPERM ? util::Errc::permission : util::Errc::io,
      fmt::format("{}: cannot read the manifest: {}", name, std::strerror(error)));
  };
  // O_NONBLOCK: opening a fifo must not wait for a writer; it is rejected just below.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    return cannot(errno);
  }
  auto owned = std::shared_ptr<int>(new int(fd), [](const int* p) {
    ::close(*p);
    delete p;
  });
  struct stat st
  {
  };
  if (::fstat(fd, &st) != 0) {
    return cannot(errno);
  }
  if (!S_ISREG(st.st_mode)) {
    return util::make_error(util::Errc::io,
                            fmt::format("{}: cannot read the manifest: not a regular file", name));
  }
  if (static_cast<std::uint64_t>(st.st_size) > k_max_manifest_bytes) {
    return util::make_error(util::Errc::io,
                            fmt::format("{}: the manifest is larger than {} bytes ({} bytes)",
                                        name,
                                        k_max_manifest_bytes,
                                        st.st_size));
  }
  // The file may grow while it is read: what comes is counted against the same limit.
  Source source = [owned, should_stop = std::move(should_stop), name, total = std::uint64_t{0}](
                    std::span<char> into) mutable -> util::Result<std::size_t> {
    for (;;) {
      if (should_stop && should_stop()) {
        return util::make_error(util::Errc::cancelled,
                                fmt::format("{}: stopped while reading the manifest", name));
      }
      const ssize_t count = ::read(*owned, into.data(), into.size());
      if (count < 0) {
        if (errno == EINTR) {
          continue;
        }
        return util::make_error(util::Errc::io,
                                fmt::format("{}: read: {}", name, std::strerror(errno)));
      }
      total += static_cast<std::uint64_t>(count);
      if (total > k_max_manifest_bytes) {
        return util::make_error(
          util::Errc::io,
          fmt::format("{}: the manifest is larger than {} bytes", name, k_max_manifest_bytes));
      }
      return static_cast<std::size_t>(count);
    }
  };
  std::unique_ptr<ManifestReader> reader(new ManifestReader(name, std::move(source)));
  reader->m_device = st.st_dev;
  reader->m_inode = st.st_ino;
  RG_TRY(reader->read_header());
  return reader;
}

util::Result<std::optional<std::string_view>>
ManifestReader::next_line()
{
  for (;;) {
    const auto* begin = m_buffer.data() + m_begin;
    const auto* newline = static_cast<const char*>(std::memchr(begin, '\n', m_end - m_begin));
    if (newline != nullptr) {
      const std::string_view line(begin, static_cast<std::size_t>(newline - begin));
      m_begin += line.size() + 1;
      ++m_line;
      if (line.size() > k_max_manifest_line) {
        return bad(fmt::format("line longer than {} bytes", k_max_manifest_line));
      }
      return std::optional<std::string_view>(line);
    }
    if (m_end - m_begin > k_max_manifest_line) {
      ++m_line;
      return bad(fmt::format("line longer than {} bytes", k_max_manifest_line));
    }
    if (m_eof) {
      if (m_begin != m_end) {
        ++m_line;
        return bad("the last line has no newline (truncated manifest?)");
      }
      return std::optional<std::string_view>();
    }
    // Keep the start of a line, read more behind it.
    std::memmove(m_buffer.data(), m_buffer.data() + m_begin, m_end - m_begin);
    m_end -= m_begin;
    m_begin = 0;
    const auto room = std::min(k_read_block, m_buffer.size() - m_end);
    RG_TRY_ASSIGN(const auto count, m_source(std::span<char>(m_buffer.data() + m_end, room)));
    if (count == 0) {
      m_eof = true;
    }
    m_end += count;
  }
}

util::Result<void>
ManifestReader::read_header()
{
  RG_TRY_ASSIGN(const auto first, next_line());
  if (!first) {
    m_line = 1;
    return bad(fmt::format("empty file (expected \"{}\")", k_manifest_version_line));
  }
  if (*first == "#readygate-manifest 1") {
    m_version = 1;
  } else if (*first == k_manifest_version_line) {
    m_version = 2;
  } else if (first->starts_with("#readygate-manifest ")) {
    return bad(
      fmt::format("unsupported manifest version \"{}\" (expected 1 or 2)", version_text(*first)));
  } else {
    return bad(fmt::format("not a readygate manifest (expected \"{}\")", k_manifest_version_line));
  }
  bool recorded = false;
  for (;;) {
    RG_TRY_ASSIGN(const auto line, next_line());
    if (!line) {
      if (!recorded) {
        return bad("missing #digest line");
      }
      return {};
    }
    if (!line->starts_with('#')) {
      if (!recorded) {
        return bad("missing #digest line before the entries");
      }
      m_pending = std::string(*line);
      return {};
    }
    if (recorded) {
      return bad("header line after #digest (headers come before the entries)");
    }
    if (line->starts_with(k_exclude_prefix)) {
      auto glob = unescape_field(line->substr(k_exclude_prefix.size()));
      if (!glob) {
        return bad("#exclude: " + glob.error().message);
      }
      m_excludes.push_back(std::move(*glob));
      m_hasher.update(*line);
      m_hasher.update("\n");
      continue;
    }
    if (line->starts_with(k_digest_prefix)) {
      const auto digest = util::sha256_from_hex(line->substr(k_digest_prefix.size()));
      if (!digest) {
        return bad("#digest: expected sha256: and 64 hex digits");
      }
      m_recorded = *digest;
      recorded = true;
      continue;
    }
    return bad(fmt::format("unknown header line \"{}\"", *line));
  }
}

util::Result<const Entry*>
ManifestReader::next()
{
  if (m_done) {
    return nullptr;
  }
  std::string_view line;
  std::string pending;
  if (m_pending) {
    pending = std::move(*m_pending);
    m_pending.reset();
    line = pending;
  } else {
    RG_TRY_ASSIGN(const auto read, next_line());
    if (!read) {
      const auto actual = m_hasher.finish();
      if (actual != m_recorded) {
        return util::make_error(
          util::Errc::config,
          fmt::format("{}: digest mismatch: #digest says sha256:{}, the content has sha256:{} "
                      "(truncated or edited manifest)",
                      m_name,
                      util::to_hex(m_recorded),
                      util::to_hex(actual)));
      }
      // Every walk records the root; a manifest without it (or without any entry) would check
      // nothing, and with allow_extra = ["**"] admit any tree.
      if (!m_seen_root) {
        return util::make_error(
          util::Errc::config,
          fmt::format("{}: no entry for the root \".\" (every manifest lists the root directory)",
                      m_name));
      }
      m_done = true;
      return nullptr;
    }
    line = *read;
  }
  if (line.starts_with('#')) {
    return bad("header line after #digest (headers come before the entries)");
  }
  // Parsed into the spare entry, compared with the previous one, then swapped in.
  auto parsed = parse_entry(line, m_version, m_spare);
  if (!parsed) {
    return bad(parsed.error().message);
  }
  if (m_have_entry && m_spare.path <= m_entry.path) {
    return bad(fmt::format("path \"{}\" {} (entries must be sorted by path, bytewise, and unique)",
                           escape_field(m_spare.path),
                           m_spare.path == m_entry.path ? "is a duplicate" : "is out of order"));
  }
  m_hasher.update(line);
  m_hasher.update("\n");
  std::swap(m_entry, m_spare);
  m_have_entry = true;
  m_seen_root = m_seen_root || m_entry.path == ".";
  return &m_entry;
}

util::Result<Manifest>
parse_manifest(std::istream& in, std::string_view name)
{
  ManifestReader::Source source =
    [&in, name = std::string(name)](std::span<char> into) -> util::Result<std::size_t> {
    in.read(into.data(), static_cast<std::streamsize>(into.size()));
    if (in.bad()) {
      return util::make_error(util::Errc::io, fmt::format("{}: read error", name));
    }
    return static_cast<std::size_t>(in.gcount());
  };
  RG_TRY_ASSIGN(auto reader, ManifestReader::from_source(std::string(name), std::move(source)));
  Manifest manifest;
  manifest.excludes = reader->excludes();
  for (;;) {
    RG_TRY_ASSIGN(const auto* entry, reader->next());
    if (entry == nullptr) {
      break;
    }
    manifest.entries.push_back(*entry);
  }
  manifest.digest = reader->digest();
  return manifest;
}

util::Result<Manifest>
read_manifest(const std::filesystem::path& path)
{
  RG_TRY_ASSIGN(auto reader, ManifestReader::open(path));
  Manifest manifest;
  manifest.excludes = reader->excludes();
  for (;;) {
    RG_TRY_ASSIGN(const auto* entry, reader->next());
    if (entry == nullptr) {
      break;
    }
    manifest.entries.push_back(*entry);
  }
  manifest.digest = reader->digest();
  return manifest;
}

// --- ManifestWriter ---

ManifestWriter::ManifestWriter(std::vector<std::string> excludes)
    : m_excludes(std::move(excludes))
{
  for (const auto& glob : m_excludes) {
    m_hasher.update(exclude_line(glob));
    m_hasher.update("\n");
  }
}

std::string
ManifestWriter::header(const util::Sha256Digest& digest) const
{
  std::string text = std::string(k_manifest_version_line) + "\n";
  for (const auto& glob : m_excludes) {
    text += exclude_line(glob) + "\n";
  }
  return text + std::string(k_digest_prefix) + util::to_hex(digest) + "\n";
}

std::size_t
ManifestWriter::digest_offset() const
{
  return header({}).size() - 65;
}

std::string
ManifestWriter::line(const Entry& entry)
{
  auto text = format_entry(entry);
  text.push_back('\n');
  m_hasher.update(text);
  return text;
}

util::Sha256Digest
ManifestWriter::finish()
{
  return m_hasher.finish();
}

// --- write_manifest ---

namespace {

util::Result<void>
write_all(int fd, std::string_view data)
{
  while (!data.empty()) {
    const ssize_t count = ::write(fd, data.data(), data.size());
    if (count < 0) {
      if (errno == EINTR) {
        continue;
      }
      return util::make_error(util::Errc::io,
                              fmt::format("cannot write the manifest: {}", std::strerror(errno)));
    }
    data.remove_prefix(static_cast<std::size_t>(count));
  }
  return {};
}

// Collects written lines into large writes.
class Output
{
public:
  explicit Output(int fd)
      : m_fd(fd)
  {}
  util::Result<void>
  add(std::string_view text)
  {
    m_buffer += text;
    if (m_buffer.size() >= 1024 * 1024) {
      return flush();
    }
    return {};
  }
  util::Result<void>
  flush()
  {
    RG_TRY(write_all(m_fd, m_buffer));
    m_buffer.clear();
    return {};
  }

private:
  int m_fd;
  std::string m_buffer;
};

// Walk `root` and write the entry lines through `output`; return the digest.
util::Result<util::Sha256Digest>
write_entries(const std::filesystem::path& root,
              ManifestWriter& writer,
              const std::vector<std::string>& excludes,
              unsigned workers,
              Output& output)
{
  const util::GlobSet excluded(excludes);
  WalkOptions options;
  options.skip = [excluded](std::string_view path) { return excluded.matches(path); };
  options.hash_files = true;
  options.workers = workers != 0 ? workers : default_walk_workers();
  RG_TRY_ASSIGN(auto walk, TreeWalk::open(root, std::move(options)));
  std::vector<std::string> listed;
  std::size_t problems = 0;
  constexpr std::size_t k_listed = 10;
  for (;;) {
    const auto* item = walk->next();
    if (item == nullptr) {
      break;
    }
    if (!item->problem.empty()) {
      if (++problems <= k_listed) {
        listed.push_back(fmt::format("{} ({})", escape_field(item->entry.path), item->problem));
      }
      continue;
    }
    if (problems == 0) {
      RG_TRY(output.add(writer.line(item->entry)));
    }
  }
  if (problems > 0) {
    return util::make_error(util::Errc::io,
                            fmt::format("{}: {} path{} could not be read: {}{}",
                                        root.string(),
                                        problems,
                                        problems == 1 ? "" : "s",
                                        fmt::join(listed, ", "),
                                        problems > k_listed ? ", ..." : ""));
  }
  RG_TRY(output.flush());
  return writer.finish();
}

util::Result<void>
check_excludes(const std::vector<std::string>& excludes)
{
  for (const auto& glob : excludes) {
    if (glob.empty() || glob.front() == '/') {
      return util::make_error(
        util::Errc::usage,
        fmt::format("--exclude \"{}\": expected a glob relative to the root", glob));
    }
  }
  return {};
}

// An unlinked file for the entries while the digest is not known yet.
util::Result<int>
temporary_file()
{
  const char* dir = std::getenv("TMPDIR");
  const std::string directory = dir != nullptr && *dir != '\0' ? dir : "/tmp";
  int fd = ::open(directory.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {
    // Not every filesystem has O_TMPFILE: a named file, unlinked at once.
    std::string name = directory + "/readygate-manifest-XXXXXX";
    fd = ::mkostemp(name.data(), O_CLOEXEC);
    if (fd >= 0) {
      ::unlink(name.c_str());
    }
  }
  if (fd < 0) {
    return util::make_error(
      util::Errc::io,
      fmt::format("{}: cannot create a temporary file: {}", directory, std::strerror(errno)));
  }
  return fd;
}

// Copy what `from` holds (from its start) to `to`.
util::Result<void>
copy_back(int from, int to)
{
  std::vector<char> buffer(1024 * 1024);
  off_t offset = 0;
  for (;;) {
    const ssize_t count = ::pread(from, buffer.data(), buffer.size(), offset);
    if (count < 0) {
      if (errno == EINTR) {
        continue;
      }
      return util::make_error(util::Errc::io,
                              fmt::format("temporary file: read: {}", std::strerror(errno)));
    }
    if (count == 0) {
      return {};
    }
    RG_TRY(write_all(to, std::string_view(buffer.data(), static_cast<std::size_t>(count))));
    offset += count;
  }
}

} // namespace

util::Result<void>
write_manifest(const std::filesystem::path& root,
               const std::vector<std::string>& excludes,
               int out,
               unsigned workers)
{
  RG_TRY(check_excludes(excludes));
  ManifestWriter writer(excludes);
  struct stat st
  {
  };
  const int flags = ::fcntl(out, F_GETFL);
  const off_t start = ::lseek(out, 0, SEEK_CUR);
  if (::fstat(out, &st) == 0 && S_ISREG(st.st_mode) && flags >= 0 && (flags & O_APPEND) == 0
      && start >= 0) {
    // A regular file: the entries go straight to it behind a header whose digest is filled in
    // at the end; on an error the file is cut back to where it started.
    const auto header = writer.header({});
    auto written = [&]() -> util::Result<void> {
      RG_TRY(write_all(out, header));
      Output output(out);
      RG_TRY_ASSIGN(const auto digest, write_entries(root, writer, excludes, workers, output));
      const auto hex = util::to_hex(digest);
      const auto at = start + static_cast<off_t>(writer.digest_offset());
      if (::pwrite(out, hex.data(), hex.size(), at) != static_cast<ssize_t>(hex.size())) {
        return util::make_error(util::Errc::io,
                                fmt::format("cannot write the manifest: {}", std::strerror(errno)));
      }
      return {};
    }();
    if (!written) {
      (void)::ftruncate(out, start);
      (void)::lseek(out, start, SEEK_SET);
    }
    return written;
  }
  RG_TRY_ASSIGN(const int spool, temporary_file());
  const std::unique_ptr<int, void (*)(const int*)> closer(new int(spool), [](const int* fd) {
    ::close(*fd);
    delete fd;
  });
  Output output(spool);
  RG_TRY_ASSIGN(const auto digest, write_entries(root, writer, excludes, workers, output));
  RG_TRY(write_all(out, writer.header(digest)));
  return copy_back(spool, out);
}

util::Result<void>
write_manifest(const std::filesystem::path& root,
               const std::vector<std::string>& excludes,
               std::ostream& out,
               unsigned workers)
{
  RG_TRY(check_excludes(excludes));
  RG_TRY_ASSIGN(const int spool, temporary_file());
  const std::unique_ptr<int, void (*)(const int*)> closer(new int(spool), [](const int* fd) {
    ::close(*fd);
    delete fd;
  });
  RG_TRY(write_manifest(root, excludes, spool, workers));
  std::vector<char> buffer(1024 * 1024);
  off_t offset = 0;
  for (;;) {
    const ssize_t count = ::pread(spool, buffer.data(), buffer.size(), offset);
    if (count < 0) {
      return util::make_error(util::Errc::io,
                              fmt::format("temporary file: read: {}", std::strerror(errno)));
    }
    if (count == 0) {
      break;
    }
    out.write(buffer.data(), count);
    offset += count;
  }
  out.flush();
  if (!out) {
    return util::make_error(util::Errc::io, "cannot write the manifest");
  }
  return {};
}

} // namespace checks::files
