#include "files_entries.hpp"
#include "testutil.hpp"

#include <checks/files/manifest.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <sstream>

using checks::files::Entry;
using checks::files::EntryType;
using checks::files::Manifest;
using testutil::dir_entry;
using testutil::file_entry;
using testutil::symlink_entry;

namespace {

std::string
manifest_text(const std::vector<std::string>& excludes, const checks::files::Entries& entries)
{
  std::ostringstream out;
  checks::files::format_manifest(excludes, entries, out);
  return out.str();
}

util::Result<Manifest>
parse(const std::string& text)
{
  std::istringstream in(text);
  return checks::files::parse_manifest(in, "files.manifest");
}

// Return `body` (entry lines, each with '\n') under a header whose digest matches it.
std::string
with_valid_header(const std::string& body)
{
  const auto digest = util::sha256(body);
  return "#readygate-manifest 1\n#digest sha256:" + util::to_hex(digest) + "\n" + body;
}

} // namespace

TEST_CASE("checks::files::escape_field: escapes what would break a line, round trips", "[files]")
{
  using checks::files::escape_field;
  using checks::files::unescape_field;
  CHECK(escape_field("app/index.php") == "app/index.php");
  CHECK(escape_field("a b") == "a%20b");
  CHECK(escape_field("line\nbreak") == "line%0Abreak");
  CHECK(escape_field("100%") == "100%25");
  CHECK(escape_field("tab\there") == "tab%09here");
  CHECK(escape_field("del\x7f") == "del%7F");
  CHECK(escape_field("-") == "%2D");
  CHECK(escape_field("a/-") == "a/-");
  CHECK(escape_field("caf\xc3\xa9") == "caf\xc3\xa9");   // valid UTF-8 stays
  CHECK(escape_field("\xe2\x82\xac") == "\xe2\x82\xac"); // euro sign
  CHECK(escape_field("bad\xff") == "bad%FF");            // never valid
  CHECK(escape_field("trunc\xc3") == "trunc%C3");        // cut-off sequence
  CHECK(escape_field("\xc0\xaf") == "%C0%AF");           // overlong '/'
  CHECK(escape_field("\xed\xa0\x80") == "%ED%A0%80");    // surrogate

  const std::vector<std::string> samples = {"plain",
                                            "with space",
                                            "new\nline",
                                            "%41",
                                            "-",
                                            "--",
                                            "\x01\x1f\x7f",
                                            "caf\xc3\xa9",
                                            "\xff\xfe",
                                            "a\xc3",
                                            "sp ace/ta\tb/\xf0\x9f\x98\x80",
                                            std::string("nul\0byte", 8)};
  for (const auto& raw : samples) {
    const auto escaped = escape_field(raw);
    INFO(escaped);
    CHECK(escaped.find(' ') == std::string::npos);
    CHECK(escaped.find('\n') == std::string::npos);
    CHECK(escaped != "-");
    const auto back = unescape_field(escaped);
    REQUIRE(back);
    CHECK(*back == raw);
  }
}

TEST_CASE("checks::files::unescape_field: rejects bad escapes and raw control bytes", "[files]")
{
  using checks::files::unescape_field;
  CHECK(testutil::error_message(unescape_field("a%2")) == "bad escape at byte 2 (expected %XX)");
  CHECK_FALSE(unescape_field("a%zz"));
  CHECK_FALSE(unescape_field("%"));
  CHECK(testutil::error_message(unescape_field("a\tb")) == "unescaped control byte 0x09 at byte 2");
  CHECK_FALSE(unescape_field(""));
  const auto lower = unescape_field("%2d");
  REQUIRE(lower);
  CHECK(*lower == "-");
}

TEST_CASE("checks::files::format_entry: one line per type", "[files]")
{
  using checks::files::format_entry;
  CHECK(format_entry(dir_entry(".")) == ". dir 0755 0 0 - - -");
  CHECK(format_entry(file_entry("app/a b.php", "abc", 04755))
        == "app/a%20b.php file 4755 0 0 3 "
           "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad -");
  CHECK(format_entry(symlink_entry("current", "releases/42"))
        == "current symlink 0777 0 0 11 - releases/42");
  CHECK(format_entry(symlink_entry("dash", "-")) == "dash symlink 0777 0 0 1 - %2D");
  Entry fifo;
  fifo.path = "run/pipe";
  fifo.type = EntryType::fifo;
  fifo.mode = 0600;
  fifo.uid = 33;
  fifo.gid = 44;
  CHECK(format_entry(fifo) == "run/pipe fifo 0600 33 44 - - -");
}

TEST_CASE("checks::files::parse_manifest: reads back what format_manifest writes", "[files]")
{
  checks::files::Entries entries = {
    dir_entry("."),
    symlink_entry("-", "-"),
    dir_entry("app"),
    file_entry("app/-", "dash"),
    file_entry("app/new\nline", "x"),
    file_entry("app/sp ace%", "y", 0600),
    symlink_entry("app/z", "/etc/pass wd"),
  };
  std::sort(
    entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.path < b.path; });
  const std::vector<std::string> excludes = {"var/cache/**", "*.l og"};
  const auto text = manifest_text(excludes, entries);
  CHECK(text.starts_with(
    "#readygate-manifest 2\n#exclude var/cache/**\n#exclude *.l%20og\n#digest sha256:"));

  const auto manifest = parse(text);
  INFO(testutil::error_message(manifest));
  REQUIRE(manifest);
  CHECK(manifest->excludes == excludes);
  REQUIRE(manifest->entries.size() == entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    CHECK(manifest->entries[i].path == entries[i].path);
    CHECK(manifest->entries[i].type == entries[i].type);
    CHECK(manifest->entries[i].mode == entries[i].mode);
    CHECK(manifest->entries[i].size == entries[i].size);
    CHECK(manifest->entries[i].sha256 == entries[i].sha256);
    CHECK(manifest->entries[i].target == entries[i].target);
  }
  CHECK(manifest->digest == checks::files::manifest_digest(excludes, entries));
}

TEST_CASE("checks::files::manifest_digest: covers exclude and entry lines as written", "[files]")
{
  const checks::files::Entries entries = {dir_entry("."), file_entry("a", "abc")};
  const auto text = manifest_text({"x y"}, entries);
  // The documented definition: sha256 of the file without its first and #digest lines.
  const std::string covered = "#exclude x%20y\n" + checks::files::format_entry(entries[0]) + "\n"
                              + checks::files::format_entry(entries[1]) + "\n";
  CHECK(text.find("#digest sha256:" + util::to_hex(util::sha256(covered)) + "\n")
        != std::string::npos);
}

TEST_CASE("checks::files::parse_manifest: an edited or truncated manifest is rejected", "[files]")
{
  const checks::files::Entries entries = {
    dir_entry("."), file_entry("a", "abc"), file_entry("b", "def")};
  const auto text = manifest_text({}, entries);

  SECTION("an edited entry")
  {
    auto edited = text;
    edited.replace(edited.find(" 0644 0 0 3 ba78"), 6, " 0755 ");
    const auto result = parse(edited);
    REQUIRE_FALSE(result);
    CHECK(
      result.error().message.starts_with("files.manifest: digest mismatch: #digest says sha256:"));
    CHECK(result.error().message.ends_with("(truncated or edited manifest)"));
  }
  SECTION("a removed last line")
  {
    const auto cut = text.substr(0, text.rfind("b file"));
    CHECK(testutil::error_message(parse(cut)).find("digest mismatch") != std::string::npos);
  }
  SECTION("cut mid-line")
  {
    const auto cut = text.substr(0, text.size() - 5);
    CHECK(testutil::error_message(parse(cut))
          == "files.manifest:5: the last line has no newline (truncated manifest?)");
  }
  SECTION("an added exclude")
  {
    auto added = text;
    added.insert(added.find("#digest"), "#exclude **\n");
    CHECK(testutil::error_message(parse(added)).find("digest mismatch") != std::string::npos);
  }
  SECTION("no digest line")
  {
    auto stripped = text;
    const auto at = stripped.find("#digest");
    stripped.erase(at, stripped.find('\n', at) - at + 1);
    CHECK(testutil::error_message(parse(stripped))
          == "files.manifest:2: missing #digest line before the entries");
  }
}

TEST_CASE("checks::files::parse_manifest: a manifest without the root entry is rejected", "[files]")
{
  // It would check nothing: with allow_extra = ["**"] any tree would pass.
  const std::string no_root =
    "files.manifest: no entry for the root \".\" (every manifest lists the root directory)";
  CHECK(testutil::error_message(parse(with_valid_header(""))) == no_root);
  CHECK(testutil::error_message(parse(with_valid_header("a dir 0755 0 0 - - -\n"))) == no_root);
  CHECK(parse(with_valid_header(". dir 0755 0 0 - - -\n")));
  // "-" sorts before ".": the root need not be the first entry.
  CHECK(parse(with_valid_header("%2D dir 0755 0 0 - - -\n. dir 0755 0 0 - - -\n")));
}

TEST_CASE("checks::files::parse_manifest: rejects versions and headers it does not know", "[files]")
{
  CHECK(testutil::error_message(parse(""))
        == "files.manifest:1: empty file (expected \"#readygate-manifest 2\")");
  CHECK(testutil::error_message(parse("#readygate-manifest 3\n"))
        == "files.manifest:1: unsupported manifest version \"3\" (expected 1 or 2)");
  CHECK(testutil::error_message(parse("hello\n"))
        == "files.manifest:1: not a readygate manifest (expected \"#readygate-manifest 2\")");
  CHECK(testutil::error_message(parse("#readygate-manifest 1\n#digest sha256:abc\n"))
        == "files.manifest:2: #digest: expected sha256: and 64 hex digits");
  CHECK(testutil::error_message(parse(with_valid_header("") + "#comment\n"))
        == "files.manifest:3: header line after #digest (headers come before the entries)");
  CHECK(testutil::error_message(parse("#readygate-manifest 1\n#signed-by x\n"))
        == "files.manifest:2: unknown header line \"#signed-by x\"");
  CHECK(testutil::error_message(parse("#readygate-manifest 1\n"))
        == "files.manifest:1: missing #digest line");
}

TEST_CASE("checks::files::parse_manifest: rejects unsorted, duplicate and escaping paths",
          "[files]")
{
  CHECK(testutil::error_message(parse(
          with_valid_header(". dir 0755 0 0 - - -\nb dir 0755 0 0 - - -\na dir 0755 0 0 - - -\n")))
        == "files.manifest:5: path \"a\" is out of order (entries must be sorted by path, "
           "bytewise, and unique)");
  CHECK(testutil::error_message(
          parse(with_valid_header("a dir 0755 0 0 - - -\na dir 0755 0 0 - - -\n")))
        == "files.manifest:4: path \"a\" is a duplicate (entries must be sorted by path, bytewise, "
           "and unique)");
  // Bytewise: a space (0x20) sorts before '/' (0x2f), so "a b" comes before "a/b".
  CHECK(parse(with_valid_header(
    ". dir 0755 0 0 - - -\na dir 0755 0 0 - - -\na%20b dir 0755 0 0 - - -\na/b dir "
    "0755 0 0 - - -\n")));

  CHECK(testutil::error_message(parse(with_valid_header("/etc/x dir 0755 0 0 - - -\n")))
        == "files.manifest:3: path \"/etc/x\" is absolute (expected a path relative to the root, "
           "without ..)");
  CHECK(testutil::error_message(parse(with_valid_header("a/../../etc dir 0755 0 0 - - -\n")))
        == "files.manifest:3: path \"a/../../etc\" has a \"..\" component (expected a path "
           "relative to the root, without ..)");
  CHECK(testutil::error_message(parse(with_valid_header("a//b dir 0755 0 0 - - -\n")))
        == "files.manifest:3: path \"a//b\" has an empty component (expected a path relative to "
           "the root, without ..)");
  CHECK(testutil::error_message(parse(with_valid_header("a/ dir 0755 0 0 - - -\n")))
          .find("empty component")
        != std::string::npos);
  CHECK(testutil::error_message(parse(with_valid_header("./a dir 0755 0 0 - - -\n")))
          .find("\".\" component")
        != std::string::npos);
  CHECK(testutil::error_message(parse(with_valid_header("a%00b dir 0755 0 0 - - -\n"))).find("NUL")
        != std::string::npos);
  // An escaped slash is still a slash once unescaped.
  CHECK(testutil::error_message(parse(with_valid_header("%2Fetc dir 0755 0 0 - - -\n")))
          .find("is absolute")
        != std::string::npos);
}

TEST_CASE("checks::files::parse_manifest: rejects malformed fields", "[files]")
{
  const auto error_of = [](const std::string& line) {
    return testutil::error_message(parse(with_valid_header(line + "\n")));
  };
  const std::string hash = util::to_hex(util::sha256("abc"));
  CHECK(parse(with_valid_header(". dir 0755 0 0 - - -\na file 0644 0 0 3 " + hash + " -\n")));
  CHECK(error_of("a file 0644 0 0 3 " + hash)
        == "files.manifest:3: expected 8 space-separated fields (path type mode uid gid size "
           "sha256 target), found 7");
  CHECK(error_of("a  file 0644 0 0 3 " + hash) == "files.manifest:3: field 2 is empty");
  CHECK(error_of("a file 0644 0 0 3 " + hash + " ") == "files.manifest:3: field 8 is empty");
  CHECK(error_of("a file 0644 0 0 3 " + hash + " - x").find("found 9") != std::string::npos);
  CHECK(error_of("a blob 0644 0 0 3 " + hash + " -").find("unknown type \"blob\"")
        != std::string::npos);
  CHECK(error_of("a file 644 0 0 3 " + hash + " -").find("bad mode \"644\"") != std::string::npos);
  CHECK(error_of("a file 0844 0 0 3 " + hash + " -").find("bad mode") != std::string::npos);
  CHECK(error_of("a file 0644 root 0 3 " + hash + " -").find("bad owner") != std::string::npos);
  CHECK(error_of("a file 0644 0 0 -1 " + hash + " -").find("bad size") != std::string::npos);
  CHECK(error_of("a file 0644 0 0 3 - -").find("bad sha256") != std::string::npos);
  std::string upper = hash;
  std::transform(upper.begin(), upper.end(), upper.begin(), [](char c) {
    return static_cast<char>(std::toupper(c));
  });
  CHECK(error_of("a file 0644 0 0 3 " + upper + " -").find("bad sha256") != std::string::npos);
  CHECK(error_of("a dir 0755 0 0 4096 - -").find("bad size \"4096\" (expected \"-\" for a dir)")
        != std::string::npos);
  CHECK(error_of("a dir 0755 0 0 - " + hash + " -").find("a dir has no sha256")
        != std::string::npos);
  CHECK(error_of("a symlink 0777 0 0 1 - -").find("bad symlink target") != std::string::npos);
  CHECK(error_of("a symlink 0777 0 0 5 - x").find("does not match the target's length 1")
        != std::string::npos);
  CHECK(error_of("a file 0644 0 0 3 " + hash + " x").find("a file has no target")
        != std::string::npos);
  CHECK(error_of("- dir 0755 0 0 - - -").find("no path") != std::string::npos);
}

TEST_CASE("checks::files::read_manifest: a missing file names the path", "[files]")
{
  testutil::TempDir dir;
  const auto result = checks::files::read_manifest(dir.path() / "nope.manifest");
  REQUIRE_FALSE(result);
  CHECK(result.error().code == util::Errc::io);
  CHECK(result.error().message
        == (dir.path() / "nope.manifest").string()
             + ": cannot read the manifest: No such file or directory");
}

TEST_CASE("checks::files::write_manifest: a real tree, then read back", "[files]")
{
  testutil::TempDir dir;
  const auto root = dir.path() / "tree";
  testutil::write_file(root / "app" / "index.php", "<?php echo 1;\n");
  testutil::write_file(root / "app" / "a b" / "c", "c");
  testutil::write_file(root / "var" / "cache" / "junk", "junk");
  testutil::write_file(root / "debug.log", "log");
  std::filesystem::create_symlink("app/index.php", root / "current");
  std::filesystem::permissions(root / "app" / "index.php", std::filesystem::perms(0640));

  std::ostringstream out;
  const auto written = checks::files::write_manifest(root, {"var/cache", "*.log"}, out);
  INFO(testutil::error_message(written));
  REQUIRE(written);
  const auto manifest = parse(out.str());
  INFO(testutil::error_message(manifest));
  REQUIRE(manifest);
  std::vector<std::string> paths;
  for (const auto& entry : manifest->entries) {
    paths.push_back(entry.path);
  }
  CHECK(paths
        == std::vector<std::string>{
          ".", "app", "app/a b", "app/a b/c", "app/index.php", "current", "var"});
  const auto& index = manifest->entries[4];
  CHECK(index.mode == 0640);
  CHECK(index.uid == ::getuid());
  CHECK(index.size == 14);
  CHECK(index.sha256 == util::sha256("<?php echo 1;\n"));
  CHECK(manifest->entries[5].target == "app/index.php");
  CHECK(manifest->excludes == std::vector<std::string>{"var/cache", "*.log"});
}

TEST_CASE("checks::files::write_manifest: rejects an absolute exclude and a missing root",
          "[files]")
{
  testutil::TempDir dir;
  std::ostringstream out;
  const auto absolute = checks::files::write_manifest(dir.path(), {"/var/cache"}, out);
  REQUIRE_FALSE(absolute);
  CHECK(absolute.error().code == util::Errc::usage);
  const auto missing = checks::files::write_manifest(dir.path() / "nope", {}, out);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message.ends_with(
    "nope: cannot open the root directory: No such file or directory"));
  CHECK(out.str().empty());
}
