#include "testutil.hpp"

#include <config/config.hpp>
#include <config/fields.hpp>
#include <hook/util/file.hpp>

#include <sys/stat.h>

#include <array>
#include <fstream>

using namespace std::chrono_literals;
using testutil::error_message;

namespace {

util::Result<config::Config>
parse(std::string_view text)
{
  return config::parse_config(text, "readygate.toml", "/base");
}

} // namespace

TEST_CASE("config::parse_config: gate settings and common check keys", "[config]")
{
  const auto parsed = parse(R"(
[gate]
deadline = "10m"
retry_interval = "2s"
concurrency = 8
default_timeout = "45s"

[[check]]
id = "app-files"
kind = "files"
root = "app"

[[check]]
id = "api"
kind = "http"
timeout = "3s"
retry = true
tags = ["web"]
depends_on = ["app-files"]
url = "http://127.0.0.1/"
)");
  INFO(error_message(parsed));
  REQUIRE(parsed);
  CHECK(parsed->gate.deadline == 10min);
  CHECK(parsed->gate.retry_interval == 2s);
  CHECK(parsed->gate.concurrency == 8);
  CHECK(parsed->gate.default_timeout == 45s);
  REQUIRE(parsed->checks.size() == 2);
  const auto& files = parsed->checks[0];
  CHECK(files.id == "app-files");
  CHECK(files.kind == "files");
  CHECK_FALSE(files.timeout);
  CHECK_FALSE(files.retry);
  CHECK(files.where == "readygate.toml:8:1");
  CHECK(files.params.size() == 1);
  CHECK(files.params.contains("root"));
  const auto& api = parsed->checks[1];
  CHECK(*api.timeout == 3s);
  CHECK(api.retry);
  CHECK(api.tags == std::vector<std::string>{"web"});
  CHECK(api.depends_on == std::vector<std::string>{"app-files"});
  CHECK_FALSE(api.params.contains("timeout"));
  CHECK(api.params.contains("url"));
}

TEST_CASE("config::parse_config: defaults when [gate] is absent", "[config]")
{
  const auto parsed = parse("[[check]]\nid = \"a\"\nkind = \"tcp\"\n");
  REQUIRE(parsed);
  CHECK(parsed->gate.deadline == 5min);
  CHECK(parsed->gate.retry_interval == 5s);
  CHECK(parsed->gate.concurrency == 4);
  CHECK(parsed->gate.default_timeout == 60s);
}

TEST_CASE("config::parse_config: bad input names file, line, column and what was expected",
          "[config]")
{
  struct Case
  {
    const char* text;
    const char* message;
  };
  const Case cases[] = {
    {"[gate]\ndeadline = 10\n[[check]]\nid=\"a\"\nkind=\"x\"\n",
     "readygate.toml:2:12: [gate]: key \"deadline\": expected a duration string such as \"30s\", "
     "found an integer"},
    {"[gate]\ndeadline = \"10\"\n[[check]]\nid=\"a\"\nkind=\"x\"\n",
     "readygate.toml:2:12: [gate]: key \"deadline\": invalid duration \"10\": missing unit"},
    {"[gate]\ndeadline = \"3000000h\"\n[[check]]\nid=\"a\"\nkind=\"x\"\n",
     "readygate.toml:2:12: [gate]: key \"deadline\": invalid duration \"3000000h\": too large"},
    {"[gate]\ndeadlin = \"10s\"\n[[check]]\nid=\"a\"\nkind=\"x\"\n",
     "readygate.toml:2:11: [gate]: unknown key \"deadlin\""},
    {"[gate]\nconcurrency = 0\n[[check]]\nid=\"a\"\nkind=\"x\"\n",
     "readygate.toml:2:15: [gate]: key \"concurrency\": expected an integer from 1 to 256"},
    {"[[check]]\nkind = \"http\"\n", "readygate.toml:1:1: check #1: missing key \"id\""},
    {"[[check]]\nid = \"a b\"\nkind = \"http\"\n",
     "readygate.toml:2:6: check #1: key \"id\": expected a string of letters"},
    {"[[check]]\nid = \"a\"\n", "check \"a\": key \"kind\": expected the name of a check kind"},
    {"[[check]]\nid = \"a\"\nkind = \"tcp\"\n[[check]]\nid = \"a\"\nkind = \"tcp\"\n",
     "readygate.toml:5:6: check \"a\": duplicate id"},
    {"[[check]]\nid = \"a\"\nkind = \"tcp\"\ntimeout = \"soon\"\n",
     "readygate.toml:4:11: check \"a\" (tcp): key \"timeout\": invalid duration \"soon\""},
    {"[[check]]\nid = \"a\"\nkind = \"tcp\"\nretry = \"yes\"\n",
     "check \"a\" (tcp): key \"retry\": expected true or false, found a string"},
    {"[[check]]\nid = \"a\"\nkind = \"tcp\"\ndepends_on = [\"b\"]\n",
     "key \"depends_on\": \"b\" is not the id of a check defined before this one"},
    {"[[check]]\nid = \"a\"\nkind = \"tcp\"\ntags = [1]\n",
     "key \"tags\": expected an array of strings, found an integer in it"},
    {"checks = 1\n",
     "readygate.toml:1:10: unknown key \"checks\" (expected [gate], [serve], [lifecycle] or [[check]])"},
    {"[gate]\n", "readygate.toml: no [[check]] tables"},
    {"[[check]\nid = 1\n", "readygate.toml:1:"},
    {"[[check]]\nid = \"a\"\nid = \"b\"\n", "readygate.toml:3:"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    const auto parsed = parse(c.text);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().code == util::Errc::config);
    CHECK_THAT(parsed.error().message, Catch::Contains(c.message));
  }
}

TEST_CASE("config::load_config: a missing file is a config error naming it", "[config]")
{
  const auto loaded = config::load_config("/nonexistent/readygate.toml");
  REQUIRE_FALSE(loaded);
  CHECK(loaded.error().code == util::Errc::config);
  CHECK_THAT(loaded.error().message, Catch::StartsWith("/nonexistent/readygate.toml: cannot read"));
}

TEST_CASE("config::load_config: a directory is a config error naming it", "[config]")
{
  testutil::TempDir dir;
  const auto loaded = config::load_config(dir.path());
  REQUIRE_FALSE(loaded);
  CHECK(loaded.error().message
        == dir.path().string()
             + ": cannot read the configuration: a directory, expected a regular file");
}

TEST_CASE("config::load_config: relative paths are taken from the config's directory", "[config]")
{
  testutil::TempDir dir;
  testutil::write_file(dir.path() / "sub/readygate.toml",
                       "[[check]]\nid = \"a\"\nkind = \"x\"\nroot = \"app\"\n");
  const auto loaded = config::load_config(dir.path() / "sub/readygate.toml");
  REQUIRE(loaded);
  CHECK(loaded->checks[0].base_directory == dir.path() / "sub");
  constexpr std::array keys = {
    config::KeySpec{"root", config::KeyType::path, false, "", false, ""}};
  config::FieldReader fields(loaded->checks[0], keys);
  CHECK(*fields.required_path("root") == dir.path() / "sub/app");
}

TEST_CASE("config::load_config: a read error is a config error, not a shorter config", "[config]")
{
  // Opening works, reading fails (EIO): nothing of it may be taken as the configuration.
  const auto loaded = config::load_config("/proc/self/mem");
  REQUIRE_FALSE(loaded);
  CHECK(loaded.error().code == util::Errc::config);
  CHECK(loaded.error().message
        == "/proc/self/mem: cannot read the configuration: read: Input/output error");
}

TEST_CASE("config::load_config: a device, a fifo or a huge file is a config error at once, never a "
          "hang or unbounded memory",
          "[config]")
{
  const testutil::TempDir dir;
  const auto started = util::Clock::now();
  const auto zero = config::load_config("/dev/zero");
  REQUIRE_FALSE(zero);
  CHECK(zero.error().code == util::Errc::config);
  CHECK(zero.error().message
        == "/dev/zero: cannot read the configuration: a character device, expected a regular file");

  std::filesystem::create_symlink("/dev/zero", dir.path() / "zero.toml");
  const auto linked = config::load_config(dir.path() / "zero.toml");
  REQUIRE_FALSE(linked);
  CHECK_THAT(linked.error().message, Catch::Contains("a character device"));

  const auto fifo = dir.path() / "fifo.toml";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const auto from_fifo = config::load_config(fifo);
  REQUIRE_FALSE(from_fifo);
  CHECK_THAT(from_fifo.error().message, Catch::Contains("a fifo, expected a regular file"));

  const auto huge = dir.path() / "huge.toml";
  {
    std::ofstream out(huge);
  }
  std::filesystem::resize_file(huge, config::k_config_size_limit + 1);
  const auto from_huge = config::load_config(huge);
  REQUIRE_FALSE(from_huge);
  CHECK_THAT(from_huge.error().message, Catch::Contains("larger than the limit of 16 MiB"));
  CHECK(util::Clock::now() - started < std::chrono::seconds(2));
}

TEST_CASE("util::read_small_file: the deadline and a stop request end the wait", "[config]")
{
  const testutil::TempDir dir;
  const auto path = dir.path() / "a.toml";
  {
    std::ofstream out(path);
    out << "x = 1\n";
  }
  const auto past = util::read_small_file(path, 100, util::Clock::now() - std::chrono::seconds(1));
  REQUIRE_FALSE(past);
  CHECK(past.error().code == util::Errc::timeout);
  std::stop_source stop;
  stop.request_stop();
  const auto stopped = util::read_small_file(
    path, 100, util::Clock::now() + std::chrono::seconds(5), stop.get_token());
  // Either the read won the race or the stop did; never a hang, never a wrong text.
  if (stopped) {
    CHECK(*stopped == "x = 1\n");
  } else {
    CHECK(stopped.error().code == util::Errc::cancelled);
  }
  const auto small = util::read_small_file(path, 3, util::Clock::now() + std::chrono::seconds(5));
  REQUIRE_FALSE(small);
  CHECK_THAT(small.error().message, Catch::Contains("larger than the limit of 3 bytes"));
}

TEST_CASE("config::parse_config: the tables of an array of tables keep their positions",
          "[config][webserver]")
{
  const auto parsed = parse(R"([[check]]
id = "web"
kind = "webserver"
server = "nginx"

[[check.probe]]
path = "/health"

[[check.probe]]
host = "www.example.com"
status = 301
)");
  INFO(error_message(parsed));
  REQUIRE(parsed);
  const auto& sources = parsed->checks.front().param_sources;
  const auto position = [&](const std::string& key) {
    const auto found = sources.find(key);
    return found == sources.end() ? std::string("(none)")
                                  : config::position_of(found->second, "readygate.toml");
  };
  CHECK(position("probe") == "readygate.toml:6:1");
  CHECK(position("probe[0]") == "readygate.toml:6:1");
  CHECK(position("probe[0].path") == "readygate.toml:7:8"); // values, as for the check's keys
  CHECK(position("probe[1]") == "readygate.toml:9:1");
  CHECK(position("probe[1].host") == "readygate.toml:10:8");
  CHECK(position("probe[1].status") == "readygate.toml:11:10");
  CHECK(position("probe[2]") == "(none)");
}
