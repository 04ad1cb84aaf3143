// Reading `nginx -T` output: the tokenizer on odd input, includes put back in place, and what
// the webserver check reads out of it.
#include "testutil.hpp"

#include <checks/webserver/nginx.hpp>

#include <fmt/format.h>

#include <algorithm>

using checks::webserver::Directive;
using checks::webserver::ServerConfig;

namespace {

std::string
dump(std::initializer_list<std::pair<std::string_view, std::string_view>> files)
{
  std::string text;
  for (const auto& [path, content] : files) {
    text += fmt::format("# configuration file {}:\n{}\n", path, content);
  }
  return text;
}

const Directive*
find(const std::vector<Directive>& directives, std::string_view name)
{
  const auto found = std::find_if(
    directives.begin(), directives.end(), [&](const Directive& d) { return d.name == name; });
  return found == directives.end() ? nullptr : &*found;
}

ServerConfig
read(const std::string& text, std::string_view prefix = "/srv/nginx")
{
  auto config = checks::webserver::read_nginx_config(text, prefix);
  INFO(testutil::error_message(config));
  REQUIRE(config);
  return std::move(*config);
}

} // namespace

TEST_CASE("webserver nginx: the tokenizer reads quotes, escapes, comments and variables as nginx",
          "[webserver]")
{
  const auto parsed = checks::webserver::parse_nginx_text(
    "server_name \"www.example.com\" 'a;b' c\\ d; # comment \"x\" {\n"
    "location ~ \"^/a{2}\" { return 200 \"it's } here\"; }\n"
    "set $x ${host}z;\n"
    "if ($a = \"b\") { root x#y; }\n",
    "/etc/nginx/a.conf");
  INFO(testutil::error_message(parsed));
  REQUIRE(parsed);
  REQUIRE(parsed->size() == 4);
  const auto& names = (*parsed)[0];
  CHECK(names.name == "server_name");
  CHECK(names.args == std::vector<std::string>{"www.example.com", "a;b", "c\\ d"});
  CHECK(names.where.text() == "/etc/nginx/a.conf:1");
  const auto& location = (*parsed)[1];
  CHECK(location.block);
  CHECK(location.args == std::vector<std::string>{"~", "^/a{2}"});
  CHECK(location.where.line == 2);
  REQUIRE(location.children.size() == 1);
  CHECK(location.children[0].args == std::vector<std::string>{"200", "it's } here"});
  CHECK((*parsed)[2].args == std::vector<std::string>{"$x", "${host}z"});
  const auto& condition = (*parsed)[3];
  CHECK(condition.args == std::vector<std::string>{"($a", "=", "b", ")"});
  REQUIRE(condition.children.size() == 1);
  CHECK(condition.children[0].args == std::vector<std::string>{"x#y"});
}

TEST_CASE("webserver nginx: unbalanced or unterminated text is a protocol error at file:line",
          "[webserver]")
{
  const std::vector<std::pair<std::string, std::string>> cases = {
    {"http {\n  server {\n}\n", "a.conf:1: \"http\" block is not closed"},
    {"root /x;\n}\n", "a.conf:2: unexpected \"}\""},
    {"root \"/x;\n", "unexpected end of file"},
    {"root /x\n", "unexpected end of file"},
    {";\n", "a.conf:1: unexpected \";\""},
    {"root \"a\"b;", "unexpected \"b\""},
  };
  for (const auto& [text, message] : cases) {
    INFO(text);
    const auto parsed = checks::webserver::parse_nginx_text(text, "a.conf");
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().code == util::Errc::protocol);
    CHECK_THAT(parsed.error().message, Catch::Contains(message));
  }
}

TEST_CASE("webserver nginx: Lua blocks are skipped whole, braces in their strings included",
          "[webserver]")
{
  const auto parsed =
    checks::webserver::parse_nginx_text("content_by_lua_block {\n  ngx.say(\"}\") -- }\n  local s "
                                        "= [[ { ]] --[==[ } ]==]\n}\nroot /srv;\n",
                                        "a.conf");
  INFO(testutil::error_message(parsed));
  REQUIRE(parsed);
  REQUIRE(parsed->size() == 2);
  CHECK((*parsed)[1].name == "root");
  CHECK((*parsed)[1].where.line == 5);
}

TEST_CASE("webserver nginx: includes go back in place, in glob order, each file once in the dump",
          "[webserver]")
{
  const auto text = dump({
    {"/etc/nginx/nginx.conf",
     "user www-data;\nhttp {\n  include mime.types;\n  include /etc/nginx/sites-enabled/*;\n}"},
    {"/etc/nginx/mime.types", "types { text/html html; }"},
    {"/etc/nginx/sites-enabled/b", "server { listen 81; include snippets/common.conf; }"},
    {"/etc/nginx/snippets/common.conf", "root /srv/common;"},
    {"/etc/nginx/sites-enabled/a", "server { listen 80; include snippets/common.conf; }"},
  });
  const auto tree = checks::webserver::parse_nginx_dump(text);
  INFO(testutil::error_message(tree));
  REQUIRE(tree);
  const auto* http = find(*tree, "http");
  REQUIRE(http != nullptr);
  REQUIRE(http->children.size() == 3);
  CHECK(http->children[0].name == "types");
  // sites-enabled/a before b, although b was dumped first
  CHECK(http->children[1].children[0].args[0] == "80");
  CHECK(http->children[1].where.file == "/etc/nginx/sites-enabled/a");
  CHECK(http->children[2].children[0].args[0] == "81");
  // the snippet, dumped once, is in both servers, with its own file and line
  for (const auto index : {1, 2}) {
    const auto& server = http->children[static_cast<std::size_t>(index)];
    REQUIRE(server.children.size() == 2);
    CHECK(server.children[1].name == "root");
    CHECK(server.children[1].where.text() == "/etc/nginx/snippets/common.conf:1");
  }
}

TEST_CASE("webserver nginx: a fake file line, an include cycle and a missing file are errors",
          "[webserver]")
{
  SECTION("a comment that looks like nginx's file line")
  {
    const auto tree =
      checks::webserver::parse_nginx_dump("# configuration file /etc/nginx/nginx.conf:\nroot "
                                          "/x;\n# configuration file /etc/passwd:\nroot /y;\n");
    REQUIRE_FALSE(tree);
    CHECK_THAT(tree.error().message, Catch::Contains("/etc/passwd is not included from anywhere"));
    // Inside a block, it cuts the block: an error too.
    const auto cut =
      checks::webserver::parse_nginx_dump("# configuration file /etc/nginx/nginx.conf:\nhttp {\n# "
                                          "configuration file /etc/passwd:\n}\n");
    REQUIRE_FALSE(cut);
    CHECK(cut.error().code == util::Errc::protocol);
  }
  SECTION("an include of itself")
  {
    const auto tree = checks::webserver::parse_nginx_dump(
      dump({{"/etc/nginx/nginx.conf", "include /etc/nginx/a.conf;"},
            {"/etc/nginx/a.conf", "include a.conf;"}}));
    REQUIRE_FALSE(tree);
    CHECK_THAT(tree.error().message,
               Catch::Contains("/etc/nginx/a.conf:1: include \"a.conf\" includes itself"));
  }
  SECTION("an explicit include the dump lacks")
  {
    const auto tree = checks::webserver::parse_nginx_dump(
      dump({{"/etc/nginx/nginx.conf", "include /etc/nginx/gone.conf;"}}));
    REQUIRE_FALSE(tree);
    CHECK_THAT(tree.error().message, Catch::Contains("the file is not in the dump"));
  }
  SECTION("output that is not a dump")
  {
    const auto tree =
      checks::webserver::parse_nginx_dump("nginx: the configuration file is fine\n");
    REQUIRE_FALSE(tree);
    CHECK_THAT(tree.error().message, Catch::Contains("does not start with"));
    CHECK_FALSE(checks::webserver::parse_nginx_dump(""));
  }
}

TEST_CASE("webserver nginx: a glob that matches nothing includes nothing", "[webserver]")
{
  const auto tree = checks::webserver::parse_nginx_dump(
    dump({{"/etc/nginx/nginx.conf", "include /etc/nginx/modules-enabled/*.conf;\nroot /x;"}}));
  INFO(testutil::error_message(tree));
  REQUIRE(tree);
  REQUIRE(tree->size() == 1);
  CHECK((*tree)[0].name == "root");
}

TEST_CASE("webserver nginx: servers, names, listeners, paths, certificates and upstreams",
          "[webserver]")
{
  const auto config = read(dump({
    {"/etc/nginx/nginx.conf", R"(user www-data;
http {
  ssl_certificate /etc/ssl/default.pem;
  ssl_certificate_key /etc/ssl/default.key;
  upstream app {
    server 127.0.0.1:8080;
    server unix:/run/app.sock;
    server 10.0.0.9:8080 down;
    server app.internal;
  }
  include /etc/nginx/sites-enabled/*;
})"},
    {"/etc/nginx/sites-enabled/shop", R"(server {
  listen 443 ssl http2;
  listen [::]:443 ssl;
  server_name shop.example.com .example.org;
  root /srv/shop/public;
  ssl_certificate certs/shop.pem;
  ssl_certificate_key certs/shop.key;
  location /static/ { alias /srv/shop/static/; }
  location /api { proxy_pass http://app; }
  location /php { fastcgi_pass unix:/run/php/fpm.sock; }
  location /old { proxy_pass http://127.0.0.1:9000/old/; }
  location /var { proxy_pass http://$backend; root /srv/$host; }
}
server {
  listen 127.0.0.1:8081;
  server_name internal;
  root html;
})"},
  }));
  CHECK(config.worker_user == "www-data");
  REQUIRE(config.servers.size() == 2);
  const auto& shop = config.servers[0];
  CHECK(shop.names == std::vector<std::string>{"shop.example.com", ".example.org"});
  REQUIRE(shop.listeners.size() == 2);
  CHECK(shop.listeners[0].tls);
  CHECK(shop.listeners[0].port == 443);
  CHECK(shop.listeners[0].host.empty());
  CHECK_FALSE(shop.listeners[0].ipv6_any);
  CHECK(shop.listeners[1].ipv6_any);
  CHECK(shop.where.text() == "/etc/nginx/sites-enabled/shop:1");
  REQUIRE(shop.certificates.size() == 1);
  CHECK(shop.certificates[0].certificate == "/etc/nginx/certs/shop.pem"); // from the conf directory
  CHECK(shop.certificates[0].key == "/etc/nginx/certs/shop.key");
  CHECK(shop.certificates[0].where.text() == "/etc/nginx/sites-enabled/shop:6");
  const auto& internal = config.servers[1];
  REQUIRE(internal.listeners.size() == 1);
  CHECK(internal.listeners[0].host == "127.0.0.1");
  CHECK_FALSE(internal.listeners[0].tls);
  CHECK(internal.certificates.empty()); // http's certificate is not used without TLS

  std::vector<std::string> paths;
  for (const auto& path : config.paths) {
    paths.push_back(fmt::format("{} {} {}", path.directive, path.path, path.where.text()));
  }
  CHECK(paths
        == std::vector<std::string>{
          "root /srv/shop/public /etc/nginx/sites-enabled/shop:5",
          "alias /srv/shop/static/ /etc/nginx/sites-enabled/shop:8",
          "root /srv/nginx/html /etc/nginx/sites-enabled/shop:17",
        });
  std::vector<std::string> upstreams;
  for (const auto& target : config.upstreams) {
    upstreams.push_back(fmt::format("{} {}", target.shown, target.where.text()));
  }
  CHECK(upstreams
        == std::vector<std::string>{
          "127.0.0.1:8080 /etc/nginx/nginx.conf:6",
          "unix:/run/app.sock /etc/nginx/nginx.conf:7",
          "app.internal:80 /etc/nginx/nginx.conf:9",
          "unix:/run/php/fpm.sock /etc/nginx/sites-enabled/shop:10",
          "127.0.0.1:9000 /etc/nginx/sites-enabled/shop:11",
        });
  REQUIRE(config.skipped.size() == 2);
  CHECK(config.skipped[0].what == "proxy_pass http://$backend: a variable");
  CHECK(config.skipped[1].what == "root /srv/$host: a variable");
  CHECK(config.files
        == std::vector<std::string>{"/etc/nginx/nginx.conf", "/etc/nginx/sites-enabled/shop"});
}

TEST_CASE("webserver nginx: http-level certificates serve TLS servers without their own",
          "[webserver]")
{
  const auto config = read(dump({{"/etc/nginx/nginx.conf", R"(http {
  ssl_certificate /etc/ssl/a.pem;
  ssl_certificate_key /etc/ssl/a.key;
  ssl_certificate /etc/ssl/a-ecdsa.pem;
  ssl_certificate_key /etc/ssl/a-ecdsa.key;
  server { listen 443 ssl; server_name a.example.com; }
  server { listen 8443; ssl on; server_name b.example.com; ssl_certificate /etc/ssl/b.pem; ssl_certificate_key /etc/ssl/b.key; }
})"}}));
  REQUIRE(config.servers.size() == 2);
  REQUIRE(config.servers[0].certificates.size() == 2);
  CHECK(config.servers[0].certificates[1].certificate == "/etc/ssl/a-ecdsa.pem");
  CHECK(config.servers[0].certificates[1].key == "/etc/ssl/a-ecdsa.key");
  REQUIRE(config.servers[1].certificates.size() == 1);
  CHECK(config.servers[1].listeners[0].tls); // `ssl on` (nginx before 1.25)
  CHECK(config.servers[1].certificates[0].certificate == "/etc/ssl/b.pem");
}

TEST_CASE("webserver nginx: the distribution's default site, by file or by placeholder root",
          "[webserver]")
{
  const auto config = read(dump({
    {"/etc/nginx/nginx.conf",
     "http { include /etc/nginx/conf.d/*.conf; include /etc/nginx/sites-enabled/*; }"},
    {"/etc/nginx/conf.d/app.conf",
     "server { listen 80; server_name app; root /srv/app; }\n"
     "server { listen 81; root /usr/share/nginx/html; }"},
    {"/etc/nginx/sites-enabled/default",
     "server { listen 80 default_server; root /var/www/html; server_name _; }"},
  }));
  REQUIRE(config.servers.size() == 3);
  CHECK(config.servers[0].default_site.empty());
  CHECK(config.servers[1].default_site
        == "root /usr/share/nginx/html is the distribution's placeholder page");
  CHECK(config.servers[2].default_site
        == "the distribution's default site (/etc/nginx/sites-enabled/default)");
}

TEST_CASE("webserver nginx: stream servers give listeners and upstreams, no paths", "[webserver]")
{
  const auto config = read(dump({{"/etc/nginx/nginx.conf", R"(stream {
  upstream db { server 127.0.0.1:5432; }
  server { listen 15432; proxy_pass db; }
  server { listen 16379 ssl; proxy_pass 127.0.0.1:6379; ssl_certificate /etc/ssl/r.pem; ssl_certificate_key /etc/ssl/r.key; }
})"}}));
  REQUIRE(config.servers.size() == 2);
  CHECK(config.servers[1].certificates.size() == 1);
  CHECK(config.paths.empty());
  std::vector<std::string> shown;
  for (const auto& target : config.upstreams) {
    shown.push_back(target.shown);
  }
  std::sort(shown.begin(), shown.end());
  CHECK(shown == std::vector<std::string>{"127.0.0.1:5432", "127.0.0.1:6379"});
}

TEST_CASE("webserver nginx: relative roots without a prefix are skipped, not guessed",
          "[webserver]")
{
  const auto config = read(dump({{"/etc/nginx/nginx.conf", "http { server { root html; } }"}}), "");
  CHECK(config.paths.empty());
  REQUIRE(config.skipped.size() == 1);
  CHECK_THAT(config.skipped[0].what, Catch::Contains("relative to nginx's prefix"));
}

TEST_CASE("webserver nginx: name matching follows nginx's server_name forms", "[webserver]")
{
  checks::webserver::VirtualServer server;
  server.syntax = checks::webserver::NameSyntax::nginx;
  server.names = {"exact.example.com",
                  "*.wild.example.com",
                  ".both.example.com",
                  "www.front.*",
                  "~^api[0-9]+\\.example\\.com$",
                  "_",
                  ""};
  using checks::webserver::serves_name;
  CHECK(serves_name(server, "EXACT.example.com"));
  CHECK(serves_name(server, "a.wild.example.com"));
  CHECK(serves_name(server, "a.b.wild.example.com"));
  CHECK_FALSE(serves_name(server, "wild.example.com"));
  CHECK(serves_name(server, "both.example.com"));
  CHECK(serves_name(server, "x.both.example.com"));
  CHECK(serves_name(server, "www.front.net"));
  CHECK(serves_name(server, "api12.example.com"));
  CHECK_FALSE(serves_name(server, "api.example.com"));
  CHECK_FALSE(serves_name(server, "_"));
  CHECK_FALSE(serves_name(server, "other.example.com"));
}
