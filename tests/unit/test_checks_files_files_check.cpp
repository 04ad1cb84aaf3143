#include "files_entries.hpp"
#include "testutil.hpp"

#include <checks/files/files_check.hpp>

#include <unistd.h>

#include <fstream>
#include <sstream>

using checks::files::Entry;
using checks::files::EntryType;
using checks::files::FilesSpec;
using checks::files::Manifest;
using checks::files::WalkResult;
using hook::Status;
using testutil::dir_entry;
using testutil::file_entry;
using testutil::symlink_entry;

namespace {

Manifest
release_manifest()
{
  Manifest manifest;
  manifest.entries = {dir_entry("."),
                      dir_entry("app"),
                      file_entry("app/index.php", "<?php"),
                      file_entry("app/lib.php", "lib"),
                      symlink_entry("current", "app")};
  manifest.digest = checks::files::manifest_digest({}, manifest.entries);
  return manifest;
}

template <typename Entries>
WalkResult
observed(Entries entries)
{
  std::sort(
    entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.path < b.path; });
  WalkResult walk;
  walk.entries.assign(entries.begin(), entries.end());
  return walk;
}

WalkResult
as_released()
{
  return observed(release_manifest().entries);
}

void
replace(WalkResult& walk, const Entry& entry)
{
  for (auto& e : walk.entries) {
    if (e.path == entry.path) {
      e = entry;
      return;
    }
  }
  FAIL("no entry " << entry.path);
}

void
remove(WalkResult& walk, std::string_view path)
{
  std::erase_if(walk.entries, [&](const Entry& e) { return e.path == path; });
}

// Findings as "subject | expected | found" lines, so Catch2 can compare and print them.
std::vector<std::string>
texts(const std::vector<hook::Finding>& findings)
{
  std::vector<std::string> lines;
  for (const auto& f : findings) {
    lines.push_back(f.subject + " | " + f.expected + " | " + f.found);
  }
  return lines;
}

std::string
describe(const std::vector<hook::Finding>& findings)
{
  std::string text;
  for (const auto& f : findings) {
    text += "{" + f.subject + " | " + f.expected + " | " + f.found + "} ";
  }
  return text;
}

} // namespace

TEST_CASE("checks::files::parse_files: keys, defaults and relative paths", "[files]")
{
  const auto spec = checks::files::parse_files(testutil::spec_from(R"(
[[check]]
id = "app-files"
kind = "files"
root = "app"
manifest = "release/files.manifest"
)",
                                                                   "/etc/readygate"));
  REQUIRE(spec);
  CHECK(spec->root == "/etc/readygate/app");
  CHECK(spec->manifest == "/etc/readygate/release/files.manifest");
  CHECK_FALSE(spec->manifest_sha256);
  CHECK(spec->max_findings == 20);
  CHECK_FALSE(spec->workers);
  CHECK_FALSE(spec->ignore_owner);

  const auto full = checks::files::parse_files(testutil::spec_from(R"(
[[check]]
id = "app-files"
kind = "files"
root = "/srv/app"
manifest = "/srv/app/.readygate/files.manifest"
manifest_sha256 = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
allow_extra = ["var/cache/**", "*.pid"]
ignore = ["owner", "mode"]
max_findings = 5
workers = 3
)"));
  REQUIRE(full);
  CHECK(full->manifest_sha256 == util::sha256("abc"));
  CHECK(full->allow_extra == std::vector<std::string>{"var/cache/**", "*.pid"});
  CHECK(full->ignore_owner);
  CHECK(full->ignore_mode);
  CHECK_FALSE(full->ignore_content);
  CHECK(full->max_findings == 5);
  CHECK(full->workers == 3U);
}

TEST_CASE("checks::files::parse_files: rejects bad values and unknown keys", "[files]")
{
  const auto error_of = [](std::string_view keys) {
    const auto toml = std::string("[[check]]\nid = \"f\"\nkind = \"files\"\nroot = \"/srv/app\"\n")
                      + std::string(keys);
    return testutil::error_message(checks::files::parse_files(testutil::spec_from(toml)));
  };
  CHECK(error_of("").find("manifest") != std::string::npos);
  CHECK(error_of("manifest = \"m\"\nignore = [\"mtime\"]\n")
          .find("unknown attribute \"mtime\" (expected \"owner\", \"mode\" or \"content\")")
        != std::string::npos);
  CHECK(error_of("manifest = \"m\"\nmanifest_sha256 = \"abc\"\n")
          .find("expected \"sha256:\" and 64 hex digits")
        != std::string::npos);
  CHECK(error_of("manifest = \"m\"\nallow_extra = [\"/tmp\"]\n")
          .find("expected a glob relative to the root")
        != std::string::npos);
  CHECK(error_of("manifest = \"m\"\nmax_findings = 0\n").find("max_findings") != std::string::npos);
  CHECK(error_of("manifest = \"m\"\nworkers = -1\n").find("workers") != std::string::npos);
  CHECK(error_of("manifest = \"m\"\nexlude = [\"x\"]\n").find("exlude") != std::string::npos);
}

TEST_CASE("checks::files::evaluate_files: an identical tree passes", "[files]")
{
  const auto manifest = release_manifest();
  const auto result = checks::files::evaluate_files(FilesSpec{}, manifest, as_released());
  CHECK(result.status == Status::pass);
  CHECK(result.message
        == "5 entries match the manifest (digest sha256:" + util::to_hex(manifest.digest) + ")");
  CHECK(result.findings.empty());
}

TEST_CASE("checks::files::evaluate_files: each kind of damage is a finding", "[files]")
{
  const auto manifest = release_manifest();
  auto walk = as_released();
  std::vector<hook::Finding> expected;

  SECTION("missing")
  {
    remove(walk, "app/lib.php");
    expected = {{"app/lib.php", "present", "missing"}};
  }
  SECTION("extra, described by type or symlink target")
  {
    walk = observed([&] {
      auto entries = walk.entries;
      entries.push_back(file_entry("tmp new", "x"));
      entries.push_back(symlink_entry("app/evil", "/etc/passwd"));
      return entries;
    }());
    expected = {{"app/evil", "absent", "symlink to /etc/passwd"}, {"tmp new", "absent", "file"}};
  }
  SECTION("content")
  {
    replace(walk, file_entry("app/index.php", "<?PHP"));
    expected = {{"app/index.php",
                 "sha256 " + util::to_hex(util::sha256("<?php")),
                 "sha256 " + util::to_hex(util::sha256("<?PHP"))}};
  }
  SECTION("content: digests that differ in their last byte only")
  {
    auto changed = file_entry("app/index.php", "<?php");
    auto& digest = *changed.sha256;
    digest.back() = static_cast<std::uint8_t>(digest.back() ^ 1U);
    replace(walk, changed);
    expected = {{"app/index.php",
                 "sha256 " + util::to_hex(util::sha256("<?php")),
                 "sha256 " + util::to_hex(digest)}};
  }
  SECTION("size (no hash needed)")
  {
    auto longer = file_entry("app/index.php", "<?php ");
    longer.sha256.reset();
    replace(walk, longer);
    expected = {{"app/index.php", "size 5", "size 6"}};
  }
  SECTION("size: a file cut short")
  {
    auto shorter = file_entry("app/index.php", "<?p");
    shorter.sha256.reset();
    replace(walk, shorter);
    expected = {{"app/index.php", "size 5", "size 3"}};
  }
  SECTION("mode and owner")
  {
    auto changed = file_entry("app/lib.php", "lib", 04755);
    changed.uid = 33;
    changed.gid = 34;
    replace(walk, changed);
    expected = {{"app/lib.php", "mode 0644", "mode 4755"},
                {"app/lib.php", "owner 0:0", "owner 33:34"}};
  }
  SECTION("owner: the group alone")
  {
    auto changed = file_entry("app/lib.php", "lib");
    changed.gid = 34;
    replace(walk, changed);
    expected = {{"app/lib.php", "owner 0:0", "owner 0:34"}};
  }
  SECTION("symlink target, never followed")
  {
    replace(walk, symlink_entry("current", "/etc"));
    expected = {{"current", "symlink to app", "symlink to /etc"}};
  }
  SECTION("symlink target of the same length")
  {
    replace(walk, symlink_entry("current", "tmp"));
    expected = {{"current", "symlink to app", "symlink to tmp"}};
  }
  SECTION("type")
  {
    replace(walk, symlink_entry("app/index.php", "/etc/passwd"));
    expected = {{"app/index.php", "file", "symlink to /etc/passwd"}};
  }
  SECTION("type: a fifo or a directory where a file was, with the file's mode and owner")
  {
    auto fifo = file_entry("app/lib.php", "");
    fifo.type = EntryType::fifo;
    fifo.sha256.reset();
    auto dir = dir_entry("app/index.php");
    dir.mode = 0644;
    replace(walk, fifo);
    replace(walk, dir);
    expected = {{"app/index.php", "file", "dir"}, {"app/lib.php", "file", "fifo"}};
  }
  const auto result = checks::files::evaluate_files(FilesSpec{}, manifest, walk);
  INFO(describe(result.findings));
  CHECK(result.status == Status::fail);
  CHECK(texts(result.findings) == texts(expected));
  CHECK(result.findings_omitted == 0);
}

TEST_CASE(
  "checks::files::evaluate_files: a setuid, setgid or sticky bit alone is a finding, in octal",
  "[files]")
{
  // A setuid bit appearing on a binary is the damage an attacker leaves behind.
  const auto manifest = release_manifest();
  const std::pair<std::uint32_t, std::string> cases[] = {
    {04644, "mode 4644"}, {02644, "mode 2644"}, {01644, "mode 1644"}};
  for (const auto& [mode, shown] : cases) {
    INFO(shown);
    auto walk = as_released();
    replace(walk, file_entry("app/lib.php", "lib", mode));
    const auto result = checks::files::evaluate_files(FilesSpec{}, manifest, walk);
    INFO(describe(result.findings));
    CHECK(result.status == Status::fail);
    CHECK(texts(result.findings)
          == texts(std::vector<hook::Finding>{{"app/lib.php", "mode 0644", shown}}));
  }
}

TEST_CASE("checks::files::evaluate_files: the message counts, findings are sorted and capped",
          "[files]")
{
  const auto manifest = release_manifest();
  auto walk = as_released();
  remove(walk, "current");
  replace(walk, file_entry("app/index.php", "other"));
  auto changed = file_entry("app/lib.php", "lib", 0600);
  changed.uid = 1;
  replace(walk, changed);
  walk.entries.push_back(file_entry("zz", "z"));
  walk.entries.push_back(file_entry("aa", "a"));
  walk = observed(walk.entries);

  FilesSpec spec;
  spec.max_findings = 3;
  const auto result = checks::files::evaluate_files(spec, manifest, walk);
  CHECK(result.status == Status::fail);
  CHECK(result.message == "1 missing, 2 extra, 2 modified of 5 entries");
  REQUIRE(result.findings.size() == 3);
  CHECK(result.findings[0].subject == "aa");
  CHECK(result.findings[1].subject == "app/index.php");
  CHECK(result.findings[2].subject == "app/lib.php");
  CHECK(result.findings_omitted == 3); // lib.php owner, current, zz
}

TEST_CASE("checks::files::evaluate_files: ignore and allow_extra", "[files]")
{
  const auto manifest = release_manifest();
  auto walk = as_released();
  auto changed = file_entry("app/lib.php", "LIB", 0600);
  changed.uid = 1000;
  changed.gid = 1000;
  replace(walk, changed);
  walk.entries.push_back(file_entry("var/cache/x", "x"));
  walk.entries.push_back(dir_entry("var"));
  walk = observed(walk.entries);

  FilesSpec spec;
  spec.ignore_owner = true;
  spec.ignore_mode = true;
  spec.ignore_content = true;
  spec.allow_extra = {"var"};
  const auto result = checks::files::evaluate_files(spec, manifest, walk);
  INFO(describe(result.findings));
  CHECK(result.status == Status::pass);

  spec.allow_extra = {"var/cache/**"};
  const auto partial = checks::files::evaluate_files(spec, manifest, walk);
  CHECK(partial.status == Status::fail);
  CHECK(texts(partial.findings) == std::vector<std::string>{"var | absent | dir"});
}

TEST_CASE("checks::files::evaluate_files: the manifest's own excludes are not extra", "[files]")
{
  auto manifest = release_manifest();
  manifest.excludes = {"*.log"};
  auto walk = as_released();
  walk.entries.push_back(file_entry("app/debug.log", "x"));
  walk = observed(walk.entries);
  CHECK(checks::files::evaluate_files(FilesSpec{}, manifest, walk).status == Status::pass);
}

TEST_CASE("checks::files::evaluate_files: an unreadable path is an error that outranks fail",
          "[files]")
{
  const auto manifest = release_manifest();
  auto walk = as_released();
  // app could not be opened: what is under it is unknown, not missing.
  remove(walk, "app/index.php");
  remove(walk, "app/lib.php");
  walk.problems.push_back({"app", "open: Permission denied"});
  replace(walk, symlink_entry("current", "/etc"));

  const auto result = checks::files::evaluate_files(FilesSpec{}, manifest, walk);
  INFO(describe(result.findings));
  CHECK(result.status == Status::error);
  CHECK(result.message == "1 path could not be read; 0 missing, 0 extra, 1 modified of 5 entries");
  CHECK(texts(result.findings)
        == std::vector<std::string>{"app | readable | open: Permission denied",
                                    "current | symlink to app | symlink to /etc"});
}

TEST_CASE("checks::files::evaluate_files: a file that was not hashed never passes", "[files]")
{
  const auto manifest = release_manifest();
  auto walk = as_released();
  auto unhashed = file_entry("app/lib.php", "lib");
  unhashed.sha256.reset();
  replace(walk, unhashed);
  const auto result = checks::files::evaluate_files(FilesSpec{}, manifest, walk);
  CHECK(result.status == Status::error);
  CHECK(result.findings.at(0).found == "not hashed");
}

TEST_CASE("checks::files::evaluate_files: problems in allowed extras do not count", "[files]")
{
  const auto manifest = release_manifest();
  auto walk = as_released();
  walk.problems.push_back({"run/app.sock", "vanished during the walk"});
  FilesSpec spec;
  spec.allow_extra = {"run"};
  CHECK(checks::files::evaluate_files(spec, manifest, walk).status == Status::pass);
  CHECK(checks::files::evaluate_files(FilesSpec{}, manifest, walk).status == Status::error);
}

TEST_CASE("checks::files::evaluate_files: a stopped walk is an error with progress", "[files]")
{
  auto walk = as_released();
  walk.stopped = true;
  walk.hashed = 1;
  const auto result = checks::files::evaluate_files(FilesSpec{}, release_manifest(), walk);
  CHECK(result.status == Status::error);
  CHECK(result.message == "stopped after 1 of 2 files (deadline passed or stop requested)");
}

namespace {

// A real release tree and its manifest, written by the same code `readygate manifest create` runs.
struct Release
{
  testutil::TempDir dir;
  std::filesystem::path root = dir.path() / "app";
  std::filesystem::path manifest = dir.path() / "files.manifest";

  Release()
  {
    testutil::write_file(root / "public" / "index.php", "<?php echo 'hello';\n");
    testutil::write_file(root / "src" / "lib.php", std::string(300'000, 'L'));
    testutil::write_file(root / "config" / "app.ini", "debug=false\n");
    std::filesystem::create_symlink("public", root / "web");
    write_manifest({"var"});
  }

  void
  write_manifest(const std::vector<std::string>& excludes)
  {
    std::ofstream out(manifest, std::ios::trunc);
    REQUIRE(checks::files::write_manifest(root, excludes, out));
  }

  FilesSpec
  spec() const
  {
    FilesSpec spec;
    spec.root = root;
    spec.manifest = manifest;
    spec.workers = 2;
    return spec;
  }
};

hook::CheckContext
context()
{
  hook::CheckContext ctx;
  ctx.deadline = util::Clock::now() + std::chrono::seconds(30);
  return ctx;
}

} // namespace

TEST_CASE("checks::files::run_files: a real tree passes, then each change is found", "[files]")
{
  Release release;
  const auto ctx = context();
  const auto good = checks::files::run_files(release.spec(), ctx);
  INFO(good.message << " " << describe(good.findings));
  CHECK(good.status == Status::pass);
  CHECK(good.message.starts_with("8 entries match the manifest (digest sha256:"));

  // Runtime files under an excluded path are not extra.
  testutil::write_file(release.root / "var" / "log" / "app.log", "x");
  CHECK(checks::files::run_files(release.spec(), ctx).status == Status::pass);

  // Same size, one byte different: only the hash sees it.
  std::string changed(300'000, 'L');
  changed[150'000] = 'M';
  testutil::write_file(release.root / "src" / "lib.php", changed);
  std::filesystem::remove(release.root / "web");
  std::filesystem::create_symlink(release.dir.path(), release.root / "web");
  std::filesystem::remove(release.root / "config" / "app.ini");
  testutil::write_file(release.root / "public" / "shell.php", "<?php system($_GET['c']);");

  const auto bad = checks::files::run_files(release.spec(), ctx);
  INFO(describe(bad.findings));
  CHECK(bad.status == Status::fail);
  CHECK(bad.message == "1 missing, 1 extra, 2 modified of 8 entries");
  CHECK(texts(bad.findings)
        == texts(std::vector<hook::Finding>{
          {"config/app.ini", "present", "missing"},
          {"public/shell.php", "absent", "file"},
          {"src/lib.php",
           "sha256 " + util::to_hex(util::sha256(std::string(300'000, 'L'))),
           "sha256 " + util::to_hex(util::sha256(changed))},
          {"web", "symlink to public", "symlink to " + release.dir.path().string()}}));
}

TEST_CASE("checks::files::run_files: a bad, missing or swapped manifest", "[files]")
{
  Release release;
  const auto ctx = context();

  SECTION("missing is an error naming it")
  {
    std::filesystem::remove(release.manifest);
    const auto result = checks::files::run_files(release.spec(), ctx);
    CHECK(result.status == Status::error);
    CHECK(result.message
          == release.manifest.string() + ": cannot read the manifest: No such file or directory");
  }
  SECTION("edited is an error")
  {
    std::ifstream in(release.manifest);
    std::stringstream text;
    text << in.rdbuf();
    auto edited = text.str();
    edited.replace(edited.find("0644"), 4, "0666");
    std::ofstream(release.manifest, std::ios::trunc) << edited;
    const auto result = checks::files::run_files(release.spec(), ctx);
    CHECK(result.status == Status::error);
    CHECK(result.message.find("digest mismatch") != std::string::npos);
  }
  SECTION("a pinned digest that differs is a fail")
  {
    auto spec = release.spec();
    spec.manifest_sha256 = util::sha256("another release");
    const auto result = checks::files::run_files(spec, ctx);
    CHECK(result.status == Status::fail);
    REQUIRE(result.findings.size() == 1);
    CHECK(result.findings[0].expected
          == "digest sha256:" + util::to_hex(util::sha256("another release")));
  }
  SECTION("a missing root is an error")
  {
    std::filesystem::remove_all(release.root);
    const auto result = checks::files::run_files(release.spec(), ctx);
    CHECK(result.status == Status::error);
    CHECK(result.message.find("cannot open the root directory") != std::string::npos);
  }
}

TEST_CASE("checks::files::run_files: a manifest shipped inside the root leaves itself out",
          "[files]")
{
  Release release;
  const auto inside = release.root / ".readygate" / "files.manifest";
  std::filesystem::create_directories(inside.parent_path());
  // As a release pipeline does it: the file exists (empty) while the tree is walked.
  testutil::write_file(inside, "");
  std::ofstream out(inside, std::ios::trunc);
  REQUIRE(checks::files::write_manifest(release.root, {}, out));
  out.close();
  auto spec = release.spec();
  spec.manifest = inside;
  const auto result = checks::files::run_files(spec, context());
  INFO(describe(result.findings));
  CHECK(result.status == Status::pass);
}

TEST_CASE("checks::files::run_files: a passed deadline is an error, never a pass", "[files]")
{
  Release release;
  hook::CheckContext ctx;
  ctx.deadline = util::Clock::now() - std::chrono::seconds(1);
  const auto result = checks::files::run_files(release.spec(), ctx);
  CHECK(result.status == Status::error);
  CHECK(result.message.starts_with("stopped after 0 files"));
}

TEST_CASE("checks::create_files_check: builds a check that runs", "[files]")
{
  Release release;
  const std::string toml = "[[check]]\nid = \"f\"\nkind = \"files\"\nroot = \"app\"\n"
                           "manifest = \"files.manifest\"\nignore = [\"owner\"]\n";
  auto check = checks::create_files_check(testutil::spec_from(toml, release.dir.path()));
  REQUIRE(check);
  CHECK((*check)->run(context()).status == Status::pass);
}
