#include "testutil.hpp"

#include <hook/util/glob.hpp>

#include <chrono>

TEST_CASE("util::glob_match: a pattern without '/' matches the last component at any depth",
          "[files]")
{
  CHECK(util::glob_match("*.log", "app.log"));
  CHECK(util::glob_match("*.log", "var/log/app.log"));
  CHECK_FALSE(util::glob_match("*.log", "app.log.1"));
  CHECK_FALSE(util::glob_match("*.log", "app.txt"));
  CHECK(util::glob_match("cache", "var/cache"));
  // ... and whatever lies under a directory that matches.
  CHECK(util::glob_match("cache", "var/cache/a/b"));
  CHECK(util::glob_match("*.d", "etc/conf.d/x.conf"));
}

TEST_CASE("util::glob_match: a pattern with '/' is anchored at the root", "[files]")
{
  CHECK(util::glob_match("cache/*", "cache/a"));
  CHECK_FALSE(util::glob_match("cache/*", "var/cache/a"));
  CHECK_FALSE(util::glob_match("cache/*", "cache"));
  // "*" does not cross '/', but a match of the directory covers what is under it.
  CHECK(util::glob_match("cache/*", "cache/a/b"));
  CHECK(util::glob_match("var/log", "var/log/app.log"));
  CHECK_FALSE(util::glob_match("var/log", "var/logs/app.log"));
  CHECK_FALSE(util::glob_match("var/log", "srv/var/log"));
}

TEST_CASE("util::glob_match: '**' crosses directories, also none at all", "[files]")
{
  CHECK(util::glob_match("var/log/**", "var/log/a"));
  CHECK(util::glob_match("var/log/**", "var/log/a/b/c.log"));
  CHECK_FALSE(util::glob_match("var/log/**", "var/logs/a"));
  CHECK(util::glob_match("**/node_modules", "node_modules"));
  CHECK(util::glob_match("**/node_modules", "a/b/node_modules/x"));
  CHECK(util::glob_match("a/**/z", "a/z"));
  CHECK(util::glob_match("a/**/z", "a/b/c/z"));
  CHECK_FALSE(util::glob_match("a/**/z", "a/b/c/zz"));
  CHECK(util::glob_match("**.pyc", "lib/x/y.pyc"));
}

TEST_CASE("util::glob_match: '?' and sets match one character, never '/'", "[files]")
{
  CHECK(util::glob_match("file?.txt", "file1.txt"));
  CHECK_FALSE(util::glob_match("file?.txt", "file10.txt"));
  CHECK_FALSE(util::glob_match("a?b", "a/b"));
  CHECK(util::glob_match("log.[0-9]", "log.3"));
  CHECK_FALSE(util::glob_match("log.[0-9]", "log.x"));
  CHECK(util::glob_match("log.[!0-9]", "log.x"));
  CHECK_FALSE(util::glob_match("log.[!0-9]", "log.3"));
  CHECK(util::glob_match("[abc]x", "bx"));
  CHECK(util::glob_match("[]]x", "]x"));
  CHECK_FALSE(util::glob_match("a[!x]b", "a/b"));
  // An unterminated set is an ordinary '['.
  CHECK(util::glob_match("a[b", "a[b"));
}

TEST_CASE("util::glob_match: a backslash escapes the next character", "[files]")
{
  CHECK(util::glob_match("a\\*b", "a*b"));
  CHECK_FALSE(util::glob_match("a\\*b", "axb"));
}

TEST_CASE("util::glob_match: paths with spaces and dots match literally", "[files]")
{
  CHECK(util::glob_match("my dir/*", "my dir/x y"));
  CHECK_FALSE(util::glob_match("*.log", "applog"));
  CHECK(util::glob_match(".env", "config/.env"));
}

TEST_CASE("util::glob_match_any: any of the patterns", "[files]")
{
  const std::vector<std::string> patterns = {"*.pid", "var/cache/**"};
  CHECK(util::glob_match_any(patterns, "run/app.pid"));
  CHECK(util::glob_match_any(patterns, "var/cache/x"));
  CHECK_FALSE(util::glob_match_any(patterns, "var/lib/x"));
  CHECK_FALSE(util::glob_match_any({}, "anything"));
}

TEST_CASE("util::glob_match: many stars against a long name take polynomial time", "[files]")
{
  // Without remembering failed splits this took seconds (each star tries every split), and a
  // walk or `manifest create` would hang on one glob.
  const std::string name(48, 'a');
  const auto started = std::chrono::steady_clock::now();
  CHECK_FALSE(util::glob_match("*a*a*a*a*a*a*a*a*b", name));
  CHECK_FALSE(util::glob_match("**a**a**a**a**a**a**a**a**b", "x/" + name));
  CHECK(util::glob_match("*a*a*a*a*a*a*a*a*a", name));
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::milliseconds(500));
}

TEST_CASE("util::glob_match: a trailing '/' names the directory and all under it", "[files]")
{
  CHECK(util::glob_match("var/cache/", "var/cache"));
  CHECK(util::glob_match("var/cache/", "var/cache/page/1.html"));
  CHECK_FALSE(util::glob_match("var/cache/", "var/cached"));
  CHECK(util::glob_match("tmp/", "app/tmp/x"));
  CHECK_FALSE(util::glob_match("/", "anything"));
}
