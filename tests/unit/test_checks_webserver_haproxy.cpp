// Reading HAProxy's configuration files: words as HAProxy splits them, frontends, certificates
// (crt, crt-list) and backend servers.
#include "testutil.hpp"

#include <checks/webserver/haproxy.hpp>

#include <fmt/format.h>

#include <map>

namespace {

util::Result<checks::webserver::ServerConfig>
read(const std::map<std::string, std::string>& files, std::vector<std::string> order = {})
{
  if (order.empty()) {
    for (const auto& [path, text] : files) {
      order.push_back(path);
    }
  }
  return checks::webserver::read_haproxy_config(
    order, [files](const std::string& path) -> util::Result<std::string> {
      const auto found = files.find(path);
      if (found == files.end()) {
        return util::make_error(util::Errc::io,
                                fmt::format("{}: cannot open: No such file or directory", path));
      }
      return found->second;
    });
}

} // namespace

TEST_CASE("webserver haproxy: words, quotes, escapes and comments as HAProxy splits them",
          "[webserver]")
{
  using checks::webserver::haproxy_words;
  CHECK(haproxy_words("  bind :80   # the front door") == std::vector<std::string>{"bind", ":80"});
  CHECK(haproxy_words("http-request return string \"it's # not a comment\" if x")
        == std::vector<std::string>{
          "http-request", "return", "string", "it's # not a comment", "if", "x"});
  CHECK(haproxy_words("a 'b \\ c' d\\ e \\x41\\#")
        == std::vector<std::string>{"a", "b \\ c", "d e", "A#"});
  CHECK(haproxy_words("x \"\" y") == std::vector<std::string>{"x", "", "y"});
  CHECK(haproxy_words("# only a comment").empty());
  CHECK(haproxy_words("").empty());
}

TEST_CASE("webserver haproxy: frontends, routed names, certificates and backend servers",
          "[webserver]")
{
  const auto config = read(
    {
      {"/etc/haproxy/haproxy.cfg", R"(global
  user haproxy
  crt-base /etc/haproxy/certs
defaults
  mode http
frontend web
  bind :80
  bind 127.0.0.1:443,[::1]:443 ssl crt site.pem crt-list /etc/haproxy/list.txt
  bind unix@/run/haproxy/web.sock
  bind abns@internal
  acl is_shop hdr(host) -i shop.example.com www.shop.example.com:443
  use_backend shop if { req.hdr(host),lower -m str api.example.com } || is_shop
  use_backend shop if { ssl_fc_sni -i sni.example.com }
  default_backend app
backend app
  server a1 127.0.0.1:8080 check
  server a2 ipv6@::1:8081
  server a3 unix@/run/app.sock
  server a4 /run/app2.sock
  server a5 10.1.2.3:80 disabled
  server a6 app.internal
  server a7 127.0.0.1:+1
listen stats
  bind 127.0.0.1:8404
  server s1 localhost:9000
)"},
      {"/etc/haproxy/list.txt",
       "# a comment\n/etc/haproxy/certs/a.pem [alpn h2] a.example.com !b.example.com\nrel.pem "
       "*.c.example.com\n"},
    },
    {"/etc/haproxy/haproxy.cfg"});
  INFO(testutil::error_message(config));
  REQUIRE(config);
  CHECK(config->every_server_takes_any_host);
  REQUIRE(config->servers.size() == 2);
  const auto& web = config->servers[0];
  CHECK(web.where.text() == "/etc/haproxy/haproxy.cfg:6");
  CHECK(web.names
        == std::vector<std::string>{
          "shop.example.com", "www.shop.example.com", "api.example.com", "sni.example.com"});
  REQUIRE(web.listeners.size() == 4);
  CHECK(web.listeners[0].host.empty());
  CHECK(web.listeners[0].port == 80);
  CHECK_FALSE(web.listeners[0].tls);
  CHECK(web.listeners[1].host == "127.0.0.1");
  CHECK(web.listeners[1].tls);
  CHECK(web.listeners[2].host == "::1");
  CHECK(web.listeners[3].unix_path == "/run/haproxy/web.sock");
  REQUIRE(web.certificates.size() == 3);
  CHECK(web.certificates[0].certificate == "/etc/haproxy/certs/site.pem");
  CHECK(web.certificates[0].haproxy_lookup);
  CHECK(web.certificates[0].names.empty());
  CHECK(web.certificates[1].certificate == "/etc/haproxy/certs/a.pem");
  CHECK(web.certificates[1].names == std::vector<std::string>{"a.example.com"});
  CHECK(web.certificates[1].where.text() == "/etc/haproxy/list.txt:2");
  CHECK(web.certificates[2].certificate == "/etc/haproxy/certs/rel.pem");
  CHECK(web.certificates[2].names == std::vector<std::string>{"*.c.example.com"});

  std::vector<std::string> upstreams;
  for (const auto& target : config->upstreams) {
    upstreams.push_back(fmt::format("{} {}", target.shown, target.where.text()));
  }
  CHECK(upstreams
        == std::vector<std::string>{
          "127.0.0.1:8080 /etc/haproxy/haproxy.cfg:16",
          "[::1]:8081 /etc/haproxy/haproxy.cfg:17",
          "unix@/run/app.sock /etc/haproxy/haproxy.cfg:18",
          "unix@/run/app2.sock /etc/haproxy/haproxy.cfg:19",
          "localhost:9000 /etc/haproxy/haproxy.cfg:25",
        });
  std::vector<std::string> skipped;
  for (const auto& entry : config->skipped) {
    skipped.push_back(fmt::format("{} {}", entry.what, entry.where.line));
  }
  CHECK(skipped
        == std::vector<std::string>{
          "bind abns@internal: not a TCP address or unix socket 10",
          "server a6 app.internal: no port (the client's port is used) 21",
          "server a7 127.0.0.1:+1: no fixed port 22",
        });
  CHECK(config->worker_user == "haproxy");
  CHECK(config->paths.empty());
}

TEST_CASE("webserver haproxy: several files are one configuration, a missing one an error",
          "[webserver]")
{
  const auto config = read({
    {"/etc/haproxy/conf.d/10-front.cfg", "frontend f\n  bind :8080\n"},
    {"/etc/haproxy/conf.d/20-back.cfg", "backend b\n  server x 127.0.0.1:9\n"},
  });
  REQUIRE(config);
  CHECK(config->servers.size() == 1);
  CHECK(config->upstreams.size() == 1);
  CHECK(config->files.size() == 2);
  const auto missing = read({{"/a.cfg", "frontend f\n bind :80 ssl crt-list /nowhere.txt\n"}});
  REQUIRE_FALSE(missing);
  CHECK_THAT(missing.error().message, Catch::Contains("/nowhere.txt"));
}
