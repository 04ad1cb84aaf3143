// The [serve] table: defaults, every key, and every bad value with its position.
#include "testutil.hpp"

#include <config/config.hpp>
#include <hook/util/tcp.hpp>

using namespace std::chrono_literals;

namespace {

util::Result<config::Config>
parse(std::string_view text)
{
  return config::parse_config(text, "readygate.toml", "/base");
}

constexpr std::string_view k_check = "\n[[check]]\nid = \"a\"\nkind = \"tcp\"\n";

} // namespace

TEST_CASE("config [serve]: defaults when the table is absent", "[serve]")
{
  const auto parsed = parse(k_check);
  REQUIRE(parsed);
  const auto& serve = parsed->serve;
  REQUIRE(serve.listen.size() == 1);
  CHECK(util::format_host_port(serve.listen[0]) == "127.0.0.1:9901");
  CHECK(serve.interval == 10s);
  CHECK(serve.max_age == 60s);
  CHECK(serve.max_connections == 64);
  CHECK(serve.max_request_bytes == 8192);
  CHECK(serve.max_headers == 64);
  CHECK(serve.idle_timeout == 5s);
}

TEST_CASE("config [serve]: every key", "[serve]")
{
  const auto parsed = parse(std::string(R"([serve]
listen = ["0.0.0.0:80", "[::]:80", "[::1]:9901"]
interval = "2s"
max_age = "30s"
max_connections = 10
max_request_bytes = 2048
max_headers = 20
idle_timeout = "1500ms"
)") + std::string(k_check));
  REQUIRE(parsed);
  const auto& serve = parsed->serve;
  REQUIRE(serve.listen.size() == 3);
  CHECK(util::format_host_port(serve.listen[0]) == "0.0.0.0:80");
  CHECK(util::format_host_port(serve.listen[1]) == "[::]:80");
  CHECK(util::format_host_port(serve.listen[2]) == "[::1]:9901");
  CHECK(serve.interval == 2s);
  CHECK(serve.max_age == 30s);
  CHECK(serve.max_connections == 10);
  CHECK(serve.max_request_bytes == 2048);
  CHECK(serve.max_headers == 20);
  CHECK(serve.idle_timeout == 1500ms);
}

TEST_CASE("config [serve]: bad values name file, line, column and what was expected", "[serve]")
{
  struct Case
  {
    const char* text;
    const char* message;
  };
  const Case cases[] = {
    {"[serve]\nlisten = \"127.0.0.1:1\"\n",
     "readygate.toml:2:10: [serve]: key \"listen\": expected a non-empty array of \"address:port\" "
     "strings, found a string"},
    {"[serve]\nlisten = []\n",
     "readygate.toml:2:10: [serve]: key \"listen\": expected a non-empty"},
    {"[serve]\nlisten = [1]\n",
     "readygate.toml:2:11: [serve]: key \"listen\": expected \"address:port\" strings, found an "
     "integer in it"},
    {"[serve]\nlisten = [\"localhost:9901\"]\n",
     "readygate.toml:2:11: [serve]: key \"listen\": \"localhost:9901\": expected a numeric IPv4 "
     "address, not a name"},
    {"[serve]\nlisten = [\"[fe80::zz]:1\"]\n", "expected a numeric IPv6 address"},
    {"[serve]\nlisten = [\"::1:9901\"]\n", "write an IPv6 address in brackets"},
    {"[serve]\nlisten = [\"127.0.0.1:0\"]\n", "expected a port from 1 to 65535"},
    {"[serve]\nlisten = [\"127.0.0.1:70000\"]\n", "expected a port from 1 to 65535"},
    {"[serve]\nlisten = [\"127.0.0.1:1\", \"127.0.0.1:1\"]\n",
     "readygate.toml:2:26: [serve]: key \"listen\": \"127.0.0.1:1\" is listed twice"},
    {"[serve]\ninterval = 10\n",
     "readygate.toml:2:12: [serve]: key \"interval\": expected a duration string"},
    {"[serve]\ninterval = \"0s\"\n", "[serve]: key \"interval\": must be longer than 0s"},
    {"[serve]\ninterval = \"2m\"\n",
     "readygate.toml:1:1: [serve]: key \"max_age\": 1m is shorter than interval (2m)"},
    {"[serve]\ninterval = \"30s\"\nmax_age = \"20s\"\n",
     "readygate.toml:3:11: [serve]: key \"max_age\": 20s is shorter than interval (30s)"},
    {"[serve]\nmax_connections = 0\n",
     "readygate.toml:2:19: [serve]: key \"max_connections\": expected an integer from 1 to 10000"},
    {"[serve]\nmax_request_bytes = 100\n",
     "[serve]: key \"max_request_bytes\": expected an integer from 1024 to 65536"},
    {"[serve]\nmax_headers = \"many\"\n",
     "[serve]: key \"max_headers\": expected an integer from 1 to 1000"},
    {"[serve]\nidle_timeout = \"forever\"\n", "[serve]: key \"idle_timeout\": invalid duration"},
    {"[serve]\nlisten_on = [\"127.0.0.1:1\"]\n",
     "readygate.toml:2:13: [serve]: unknown key \"listen_on\" (expected listen, interval"},
    {"serve = 1\n", "readygate.toml:1:9: key \"serve\": expected a table ([serve])"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    const auto parsed = parse(std::string(c.text) + std::string(k_check));
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().code == util::Errc::config);
    CHECK_THAT(parsed.error().message, Catch::Contains(c.message));
  }
}

TEST_CASE("util::parse_listen_address: numeric addresses only", "[serve]")
{
  CHECK(util::parse_listen_address("127.0.0.1:9901"));
  CHECK(util::parse_listen_address("[::1]:9901"));
  CHECK(util::parse_listen_address("[::]:1"));
  CHECK_FALSE(util::parse_listen_address("example.com:80"));
  CHECK_FALSE(util::parse_listen_address("[example.com]:80"));
  CHECK_FALSE(util::parse_listen_address("[127.0.0.1]:80"));
  CHECK_FALSE(util::parse_listen_address("127.0.0.1"));
  CHECK_FALSE(util::parse_listen_address(":80"));
}
