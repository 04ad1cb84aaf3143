// The streaming files path: the walk's order is the manifest's, the manifest is read one entry at
// a time, and the check merges the two without holding either.
#include "testutil.hpp"

#include <checks/files/files_check.hpp>
#include <checks/files/manifest.hpp>
#include <checks/files/tree_walk.hpp>
#include <hook/util/glob.hpp>

#include <fmt/format.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

using checks::files::Entry;
using checks::files::EntryType;
using checks::files::FilesSpec;
using checks::files::WalkOptions;
using hook::Status;

namespace {

std::vector<std::string>
walk_paths(const std::filesystem::path& root, WalkOptions options)
{
  const auto walk = checks::files::walk_tree(root, std::move(options));
  REQUIRE(walk);
  std::vector<std::string> paths;
  for (const auto& entry : walk->entries) {
    paths.push_back(entry.path);
  }
  return paths;
}

// A tree whose names sort around '/': '-' (0x2d) and '.' (0x2e) before it, '0' after it, and a
// space and '!' before all of them.
void
make_awkward_tree(const std::filesystem::path& root)
{
  for (const auto* dir : {"a", "a/b", "a-b", "a.b", "a0", "a b", "!", "a/b/c-d", "a/b/c.d"}) {
    std::filesystem::create_directories(root / dir);
  }
  for (const auto* file :
       {"a/x", "a/b/c", "a/b/c-d/e", "a/b/c.d/e", "a-b/x", "a.b/x", "a0/x", "a b/x", "!/x", "a-"}) {
    testutil::write_file(root / file, file);
  }
  std::filesystem::create_symlink("a", root / "a.link");
}

hook::CheckContext
context()
{
  hook::CheckContext ctx;
  ctx.deadline = util::Clock::now() + std::chrono::seconds(30);
  return ctx;
}

struct Tree
{
  testutil::TempDir dir;
  std::filesystem::path root = dir.path() / "app";
  std::filesystem::path manifest = dir.path() / "files.manifest";

  void
  write_manifest(const std::vector<std::string>& excludes = {})
  {
    std::ofstream out(manifest, std::ios::trunc);
    REQUIRE(checks::files::write_manifest(root, excludes, out));
  }

  FilesSpec
  spec(unsigned workers = 2) const
  {
    FilesSpec spec;
    spec.root = root;
    spec.manifest = manifest;
    spec.workers = workers;
    return spec;
  }
};

std::string
describe(const hook::CheckResult& result)
{
  std::string text = result.message;
  for (const auto& f : result.findings) {
    text += " {" + f.subject + " | " + f.expected + " | " + f.found + "}";
  }
  return text;
}

} // namespace

TEST_CASE("checks::files::path_order_less: a directory's contents sort where \"name/\" does",
          "[files]")
{
  using checks::files::path_order_less;
  CHECK(path_order_less("a", false, "a-b", false));
  CHECK(path_order_less("a-b", false, "a", true)); // "a-b" < "a/"
  CHECK(path_order_less("a.b", false, "a", true)); // "a.b" < "a/"
  CHECK(path_order_less("a", true, "a0", false));  // "a/" < "a0"
  CHECK(path_order_less("a", false, "a", true));   // "a" < "a/"
  CHECK_FALSE(path_order_less("a", true, "a", true));
  CHECK(path_order_less("a", true, "a/x", false)); // "a/" < "a/x"
  CHECK_FALSE(path_order_less("a/x", false, "a", true));
}

TEST_CASE("checks::files::walk_tree: comes out in bytewise order of full paths, whatever the "
          "threads",
          "[files]")
{
  testutil::TempDir dir;
  make_awkward_tree(dir.path());
  for (const unsigned workers : {0U, 1U, 4U}) {
    for (const std::size_t open_directories : {std::size_t{0}, std::size_t{128}}) {
      INFO("workers " << workers << ", open directories " << open_directories);
      WalkOptions options;
      options.hash_files = true;
      options.workers = workers;
      options.max_open_directories = open_directories;
      const auto paths = walk_paths(dir.path(), options);
      auto sorted = paths;
      std::sort(sorted.begin(), sorted.end());
      CHECK(paths == sorted);
      CHECK(paths.size() == 21);
      CHECK(std::find(paths.begin(), paths.end(), "a/b/c.d/e") != paths.end());
    }
  }
}

TEST_CASE("checks::files::write_manifest: a tree of awkward names reads back and passes", "[files]")
{
  Tree tree;
  make_awkward_tree(tree.root);
  testutil::write_file(tree.root / "#notes", "n");
  tree.write_manifest();
  const auto manifest = checks::files::read_manifest(tree.manifest);
  INFO(testutil::error_message(manifest));
  REQUIRE(manifest);
  CHECK(manifest->entries.size() == 22);
  const auto result = checks::files::run_files(tree.spec(), context());
  INFO(describe(result));
  CHECK(result.status == Status::pass);
}

TEST_CASE("checks::files::ManifestReader: streams entries, and a bad end is an error after them",
          "[files]")
{
  checks::files::Entries entries;
  for (int i = 0; i < 1000; ++i) {
    Entry entry;
    entry.path = fmt::format("d{:04}", i);
    entry.type = EntryType::dir;
    entry.mode = 0755;
    entries.push_back(entry);
  }
  Entry root;
  root.path = ".";
  root.type = EntryType::dir;
  entries.push_front(root);
  std::ostringstream text;
  checks::files::format_manifest({}, entries, text);
  auto edited = text.str();
  edited.replace(edited.rfind("0755"), 4, "0777"); // the very last entry

  std::size_t served = 0;
  const auto reader = checks::files::ManifestReader::from_source(
    "m", [&](std::span<char> into) -> util::Result<std::size_t> {
      // A few bytes at a time: lines cross reads.
      const auto count = std::min<std::size_t>({into.size(), 7, edited.size() - served});
      std::copy_n(edited.data() + served, count, into.data());
      served += count;
      return count;
    });
  REQUIRE(reader);
  std::size_t read = 0;
  for (;;) {
    const auto entry = (*reader)->next();
    if (!entry) {
      CHECK(entry.error().message.find("m: digest mismatch") == 0);
      break;
    }
    REQUIRE(*entry != nullptr); // never the end: the digest does not match
    ++read;
  }
  CHECK(read == entries.size());
}

TEST_CASE("checks::files::run_files: an allowed extra directory is walked only where the "
          "manifest lists something in it",
          "[files]")
{
  Tree tree;
  testutil::write_file(tree.root / "app" / "index.php", "<?php");
  testutil::write_file(tree.root / "var" / "keep" / "config.ini", "release=42");
  tree.write_manifest();
  testutil::write_file(tree.root / "var" / "cache" / "page", "runtime");
  testutil::write_file(tree.root / "tmp" / "junk", "runtime");
  auto spec = tree.spec();
  spec.allow_extra = {"var", "tmp"};

  auto result = checks::files::run_files(spec, context());
  INFO(describe(result));
  CHECK(result.status == Status::pass);

  // What the manifest lists under an allowed directory is still compared, content included.
  testutil::write_file(tree.root / "var" / "keep" / "config.ini", "release=43");
  result = checks::files::run_files(spec, context());
  INFO(describe(result));
  CHECK(result.status == Status::fail);
  REQUIRE(result.findings.size() == 1);
  CHECK(result.findings[0].subject == "var/keep/config.ini");
  CHECK(result.findings[0].expected == "sha256 " + util::to_hex(util::sha256("release=42")));

  std::filesystem::remove(tree.root / "var" / "keep" / "config.ini");
  result = checks::files::run_files(spec, context());
  INFO(describe(result));
  CHECK(result.status == Status::fail);
  CHECK(result.message == "1 missing, 0 extra, 0 modified of 6 entries");
}

TEST_CASE("checks::files::run_files: the manifest inside the tree is left out only as the very "
          "file that was read",
          "[files]")
{
  Tree tree;
  testutil::write_file(tree.root / "app" / "index.php", "<?php");
  testutil::write_file(tree.root / "app" / "other.php", "<?php");
  const auto inside = tree.root / ".readygate" / "files.manifest";
  std::filesystem::create_directories(inside.parent_path());
  {
    std::ofstream out(inside, std::ios::trunc);
    REQUIRE(checks::files::write_manifest(tree.root, {".readygate/files.manifest"}, out));
  }
  auto spec = tree.spec();
  spec.manifest = inside;
  auto result = checks::files::run_files(spec, context());
  INFO(describe(result));
  CHECK(result.status == Status::pass);

  SECTION("a hard link elsewhere is fine, the file it shares is still compared")
  {
    std::filesystem::remove(tree.root / "app" / "other.php");
    std::filesystem::create_hard_link(inside, tree.root / "app" / "other.php");
    result = checks::files::run_files(spec, context());
    INFO(describe(result));
    CHECK(result.status == Status::fail);
    REQUIRE(result.findings.size() == 1);
    CHECK(result.findings[0].subject == "app/other.php");
  }
  SECTION("a directory at its place (the manifest read through a symlink) is a finding")
  {
    const auto elsewhere = tree.dir.path() / "elsewhere.manifest";
    std::filesystem::copy_file(inside, elsewhere);
    std::filesystem::rename(tree.root / ".readygate", tree.dir.path() / "moved");
    std::filesystem::create_directories(tree.root / ".readygate");
    std::filesystem::create_symlink(tree.dir.path() / "moved", tree.root / ".readygate-link");
    spec.manifest = tree.root / ".readygate-link" / "files.manifest";
    spec.allow_extra = {".readygate-link"};
    result = checks::files::run_files(spec, context());
    INFO(describe(result));
    CHECK(result.status == Status::fail);
    CHECK(
      describe(result).find(".readygate-link/files.manifest | the manifest file itself | missing")
      != std::string::npos);
  }
}

TEST_CASE("checks::files::run_files: one walk thread or many find the same", "[files]")
{
  Tree tree;
  for (int i = 0; i < 60; ++i) {
    testutil::write_file(tree.root / fmt::format("d{}", i % 6) / fmt::format("f{}", i),
                         std::string(static_cast<std::size_t>(i) * 50'000, 'x'));
  }
  tree.write_manifest();
  testutil::write_file(tree.root / "d3" / "f33", std::string(33 * 50'000, 'y'));
  std::filesystem::remove(tree.root / "d5" / "f59");
  testutil::write_file(tree.root / "d0" / "new", "n");
  std::string first;
  for (const unsigned workers : {1U, 2U, 8U}) {
    const auto result = checks::files::run_files(tree.spec(workers), context());
    CHECK(result.status == Status::fail);
    CHECK(result.message == "1 missing, 1 extra, 1 modified of 67 entries");
    if (first.empty()) {
      first = describe(result);
    }
    CHECK(describe(result) == first);
  }
}

TEST_CASE("util::GlobSet: the automaton keeps glob_match's rules", "[files]")
{
  CHECK(util::glob_match("**/x", "x"));
  CHECK(util::glob_match("**/x", "a/b/x"));
  CHECK(util::glob_match("a/**", "a/b"));
  CHECK_FALSE(util::glob_match("a/**", "a"));
  CHECK_FALSE(util::glob_match("a/**/z", "a/b/c/zz"));
  CHECK(util::glob_match("a/**/z", "a/z"));
  CHECK(util::glob_match("a/**/z", "a/b/c/z/deeper"));
  CHECK(util::glob_match("*.log", "x.log/y"));
  CHECK(util::glob_match("a\\/**/z", "a/z"));
  const util::GlobSet set({"var/cache/", "*.pid"});
  CHECK(set.matches("var/cache"));
  CHECK(set.matches("run/app.pid"));
  CHECK_FALSE(set.matches("var/cached"));
  // A path thousands of components deep is matched in one pass.
  std::string deep;
  for (int i = 0; i < 3000; ++i) {
    deep += "d/";
  }
  CHECK(util::glob_match("**/*.log", deep + "app.log"));
  CHECK_FALSE(util::glob_match("**/*.log", deep + "app.txt"));
}
