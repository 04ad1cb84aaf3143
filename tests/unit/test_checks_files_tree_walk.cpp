#include "testutil.hpp"

#include <checks/files/tree_walk.hpp>

#include <fmt/format.h>

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>

using checks::files::Entry;
using checks::files::EntryType;
using checks::files::WalkOptions;
using checks::files::WalkResult;

namespace {

const Entry*
find(const WalkResult& walk, std::string_view path)
{
  for (const auto& entry : walk.entries) {
    if (entry.path == path) {
      return &entry;
    }
  }
  return nullptr;
}

std::vector<std::string>
paths_of(const WalkResult& walk)
{
  std::vector<std::string> paths;
  for (const auto& entry : walk.entries) {
    paths.push_back(entry.path);
  }
  return paths;
}

WalkOptions
hash_all(unsigned workers = 2)
{
  WalkOptions options;
  options.hash_files = true;
  options.workers = workers;
  return options;
}

} // namespace

TEST_CASE("checks::files::walk_tree: records every type, sorted, with hashes", "[files]")
{
  testutil::TempDir dir;
  const auto& root = dir.path();
  testutil::write_file(root / "b" / "two", "22");
  testutil::write_file(root / "a", "1");
  testutil::write_file(root / "b" / "c" / "three", "333");
  std::filesystem::create_symlink("b/two", root / "link");
  REQUIRE(::mkfifo((root / "pipe").c_str(), 0600) == 0);
  std::filesystem::permissions(root / "a", std::filesystem::perms(04751));

  const auto walk = checks::files::walk_tree(root, hash_all());
  REQUIRE(walk);
  CHECK(walk->problems.empty());
  CHECK_FALSE(walk->stopped);
  CHECK(paths_of(*walk)
        == std::vector<std::string>{".", "a", "b", "b/c", "b/c/three", "b/two", "link", "pipe"});
  CHECK(walk->hashed == 3);

  const auto* a = find(*walk, "a");
  REQUIRE(a);
  CHECK(a->type == EntryType::file);
  CHECK(a->mode == 04751);
  CHECK(a->uid == ::getuid());
  CHECK(a->gid == ::getgid());
  CHECK(a->size == 1);
  CHECK(a->sha256 == util::sha256("1"));
  CHECK(find(*walk, "b/c/three")->sha256 == util::sha256("333"));

  const auto* link = find(*walk, "link");
  REQUIRE(link);
  CHECK(link->type == EntryType::symlink);
  CHECK(link->target == "b/two");
  CHECK(link->size == 5);
  CHECK_FALSE(link->sha256);

  CHECK(find(*walk, "pipe")->type == EntryType::fifo);
  CHECK(find(*walk, "pipe")->mode == 0600);
  CHECK(find(*walk, ".")->type == EntryType::dir);
}

TEST_CASE("checks::files::walk_tree: a symlink out of the root is recorded, never followed",
          "[files]")
{
  testutil::TempDir dir;
  testutil::write_file(dir.path() / "outside" / "secret", "secret");
  testutil::write_file(dir.path() / "root" / "app", "app");
  std::filesystem::create_symlink(dir.path() / "outside", dir.path() / "root" / "escape");
  std::filesystem::create_symlink(dir.path() / "outside" / "secret",
                                  dir.path() / "root" / "file-link");

  const auto walk = checks::files::walk_tree(dir.path() / "root", hash_all());
  REQUIRE(walk);
  CHECK(paths_of(*walk) == std::vector<std::string>{".", "app", "escape", "file-link"});
  CHECK(find(*walk, "escape")->target == (dir.path() / "outside").string());
  CHECK(find(*walk, "file-link")->type == EntryType::symlink);
  CHECK_FALSE(find(*walk, "file-link")->sha256);
  CHECK(walk->hashed == 1);
}

TEST_CASE("checks::files::walk_tree: a symlinked root is followed", "[files]")
{
  testutil::TempDir dir;
  testutil::write_file(dir.path() / "releases" / "42" / "index.html", "42");
  std::filesystem::create_symlink(dir.path() / "releases" / "42", dir.path() / "current");

  const auto walk = checks::files::walk_tree(dir.path() / "current", hash_all());
  REQUIRE(walk);
  CHECK(paths_of(*walk) == std::vector<std::string>{".", "index.html"});
  CHECK(find(*walk, ".")->type == EntryType::dir);
  CHECK(find(*walk, "index.html")->sha256 == util::sha256("42"));
}

TEST_CASE("checks::files::walk_tree: skip leaves out whole subtrees, defer leaves files unhashed",
          "[files]")
{
  testutil::TempDir dir;
  testutil::write_file(dir.path() / "keep" / "x", "x");
  testutil::write_file(dir.path() / "cache" / "deep" / "y", "y");
  testutil::write_file(dir.path() / "z", "z");
  std::atomic<int> skip_asked{0};
  WalkOptions options;
  options.workers = 0; // the callbacks CHECK: on the test's thread only
  options.skip = [&](std::string_view path) {
    ++skip_asked;
    CHECK_FALSE(std::string_view(path).starts_with("cache/")); // never descended into
    return path == "cache";
  };
  options.hash_files = true;
  options.defer = [](std::string_view path) { return path == "keep/x"; };
  const auto walk = checks::files::walk_tree(dir.path(), options);
  REQUIRE(walk);
  CHECK(paths_of(*walk) == std::vector<std::string>{".", "keep", "keep/x", "z"});
  CHECK_FALSE(find(*walk, "keep/x")->sha256);
  CHECK(find(*walk, "z")->sha256 == util::sha256("z"));
  CHECK(skip_asked == 4);
}

TEST_CASE("checks::files::walk_tree: many files over several workers all get their own digest",
          "[files]")
{
  testutil::TempDir dir;
  for (int i = 0; i < 300; ++i) {
    testutil::write_file(
      dir.path() / std::to_string(i % 7) / ("f" + std::to_string(i)),
      std::string(static_cast<std::size_t>(i) * 37, static_cast<char>('a' + i % 26)));
  }
  const auto walk = checks::files::walk_tree(dir.path(), hash_all(4));
  REQUIRE(walk);
  CHECK(walk->hashed == 300);
  for (int i = 0; i < 300; ++i) {
    const auto* entry = find(*walk, std::to_string(i % 7) + "/f" + std::to_string(i));
    REQUIRE(entry);
    CHECK(entry->sha256
          == util::sha256(
            std::string(static_cast<std::size_t>(i) * 37, static_cast<char>('a' + i % 26))));
  }
}

TEST_CASE("checks::files::walk_tree: a stop request ends the walk", "[files]")
{
  testutil::TempDir dir;
  for (int i = 0; i < 50; ++i) {
    testutil::write_file(dir.path() / ("f" + std::to_string(i)), "x");
  }
  auto options = hash_all();
  options.should_stop = [] { return true; };
  const auto walk = checks::files::walk_tree(dir.path(), options);
  REQUIRE(walk);
  CHECK(walk->stopped);
  CHECK(walk->entries.size() <= 1); // at most the root
}

TEST_CASE("checks::files::walk_tree: an unreadable directory or file is a problem, not a crash",
          "[files]")
{
  testutil::TempDir dir;
  testutil::write_file(dir.path() / "locked" / "inner", "x");
  testutil::write_file(dir.path() / "ok", "ok");
  testutil::write_file(dir.path() / "secret", "s");
  std::filesystem::permissions(dir.path() / "locked", std::filesystem::perms::none);
  std::filesystem::permissions(dir.path() / "secret", std::filesystem::perms::none);
  // Root reads through chmod 000: the walk runs as nobody (the tree is readable by others).
  const auto seen = testutil::run_unprivileged([&] {
    const auto walk = checks::files::walk_tree(dir.path(), hash_all());
    if (!walk) {
      return "walk: " + walk.error().message;
    }
    std::string lines;
    for (const auto& problem : walk->problems) {
      lines += fmt::format("problem {}: {}\n", problem.path, problem.message);
    }
    lines += fmt::format("entries {}\n", fmt::join(paths_of(*walk), " "));
    return lines;
  });
  std::filesystem::permissions(dir.path() / "locked", std::filesystem::perms::owner_all);
  CHECK(seen
        == "problem locked: open: Permission denied\n"
           "problem secret: open: Permission denied\n"
           "entries . locked ok\n");
}

TEST_CASE("checks::files::walk_tree: a path that vanishes or changes mid-walk is a problem",
          "[files]")
{
  testutil::TempDir temp;
  const auto root = temp.path() / "tree";
  testutil::write_file(root / "gone", "g");
  testutil::write_file(root / "gone-dir" / "x", "x");
  testutil::write_file(root / "swapped", "s");
  testutil::write_file(root / "to-link", "l");
  testutil::write_file(root / "stays", "ok");
  WalkOptions options;
  options.workers = 0;
  options.hash_files = true;
  // skip runs between the walk's readdir and its open/fstatat: the window a racing deploy would
  // hit. A file is opened before it is fstat'ed, so what is recorded is what is hashed: a file
  // swapped there is the new one, a symlink swapped in is recorded as the symlink.
  options.skip = [&](std::string_view path) {
    if (path == "gone" || path == "gone-dir") {
      std::filesystem::remove_all(root / path);
    }
    if (path == "swapped") {
      std::filesystem::create_hard_link(root / "swapped", temp.path() / "old");
      std::filesystem::remove(root / "swapped");
      testutil::write_file(root / "swapped", "new inode");
    }
    if (path == "to-link") {
      std::filesystem::remove(root / "to-link");
      std::filesystem::create_symlink("/etc/passwd", root / "to-link");
    }
    return false;
  };
  const auto walk = checks::files::walk_tree(root, options);
  REQUIRE(walk);
  REQUIRE(walk->problems.size() == 2);
  CHECK(walk->problems[0].path == "gone");
  CHECK(walk->problems[0].message == "vanished during the walk");
  CHECK(walk->problems[1].path == "gone-dir");
  CHECK(walk->problems[1].message == "vanished during the walk");
  CHECK(paths_of(*walk) == std::vector<std::string>{".", "stays", "swapped", "to-link"});
  CHECK(find(*walk, "stays")->sha256 == util::sha256("ok"));
  CHECK(find(*walk, "swapped")->sha256 == util::sha256("new inode"));
  CHECK(find(*walk, "to-link")->type == EntryType::symlink);
  CHECK(find(*walk, "to-link")->target == "/etc/passwd");
}

TEST_CASE("checks::files::walk_tree: a missing root is an error naming it", "[files]")
{
  testutil::TempDir dir;
  const auto walk = checks::files::walk_tree(dir.path() / "nope", hash_all());
  REQUIRE_FALSE(walk);
  CHECK(walk.error().message
        == (dir.path() / "nope").string()
             + ": cannot open the root directory: No such file or directory");
}
