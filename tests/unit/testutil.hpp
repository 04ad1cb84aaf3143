// Shared helpers for the unit tests.
#pragma once

#include <config/config.hpp>
#include <hook/check.hpp>
#include <hook/expect.hpp>
#include <hook/util/result.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

// Catch2 would otherwise pick boost::system::result's operator<<, which needs T streamable.
namespace Catch {
template <typename T>
struct StringMaker<util::Result<T>>
{
  static std::string
  convert(const util::Result<T>& result)
  {
    return result ? std::string("<value>") : "<error: " + result.error().message + ">";
  }
};
template <>
struct StringMaker<hook::Status>
{
  static std::string
  convert(hook::Status status)
  {
    return std::string(hook::status_name(status));
  }
};
} // namespace Catch

namespace testutil {

// A fresh directory under the system temp dir, removed with its contents at scope exit.
class TempDir
{
public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path&
  path() const
  {
    return m_path;
  }

private:
  std::filesystem::path m_path;
};

// Return what each of `expectations` expects, as findings word it.
std::vector<std::string> described(const std::vector<hook::Expectation>& expectations);

// Write `content` to `path`, creating parent directories.
void write_file(const std::filesystem::path& path, std::string_view content);

// Run `body` in a forked child without root's privileges and return what it returned: as root
// (which reads through chmod 000, and is how CI runs) the child first becomes nobody (uid and gid
// 65534, no supplementary groups). `body` must not use Catch assertions; the caller judges what
// it returns. Fails the test when the child cannot drop root or does not end normally.
std::string run_unprivileged(const std::function<std::string()>& body);

// Parse `toml` (a whole config) and return its only check's spec; relative paths in it are
// taken from `base_directory`. Fails the test on a config error.
config::CheckSpec spec_from(std::string_view toml,
                            const std::filesystem::path& base_directory = "/nonexistent");

// Return the error message of `result`, or "" when it holds a value.
template <typename T>
std::string
error_message(const util::Result<T>& result)
{
  return result ? std::string() : result.error().message;
}

// The per-kind harness: one [[check]] of `kind` (id `id`) made of TOML key lines, parsed by the
// kind's own spec parser; relative paths are taken from `base`.
template <typename Spec>
struct KindHarness
{
  std::string_view kind;
  std::string_view id;
  util::Result<Spec> (*parse_spec)(const config::CheckSpec&);
  std::filesystem::path base = "/etc/readygate";

  // Return the whole config text of the check.
  std::string
  config(std::string_view keys) const
  {
    return "[[check]]\nid = \"" + std::string(id) + "\"\nkind = \"" + std::string(kind) + "\"\n"
           + std::string(keys) + "\n";
  }
  util::Result<Spec>
  parse(std::string_view keys) const
  {
    return parse_spec(spec_from(config(keys), base));
  }
  // Return the parsed spec; the test fails on a config error.
  Spec
  parsed(std::string_view keys) const
  {
    auto spec = parse(keys);
    INFO(error_message(spec));
    REQUIRE(spec);
    return std::move(*spec);
  }
};

// Return a context with `left` until its deadline and no probe installed.
hook::CheckContext context(std::chrono::milliseconds left = std::chrono::seconds(5));

// Install `fake` (owned by the test, which outlives `ctx`'s use) as the probe P of `ctx`.
template <typename P>
void
install_fake(hook::CheckContext& ctx, P* fake)
{
  ctx.probes.install(std::shared_ptr<P>(fake, [](P*) {}));
}

} // namespace testutil
