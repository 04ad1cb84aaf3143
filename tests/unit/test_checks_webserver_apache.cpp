// Reading Apache's dump (-D DUMP_INCLUDES/MODULES/VHOSTS/RUN_CFG, as apache2 2.4.71 prints it)
// and its files.
#include "testutil.hpp"

#include <checks/webserver/apache.hpp>

#include <fmt/format.h>

#include <map>

namespace {

// The dump of a config with two name-based virtual hosts, an IP one, and Debian's default.
constexpr std::string_view k_dump = R"(Included configuration files:
  (*) /etc/apache2/apache2.conf
    (10) /etc/apache2/mods-enabled/ssl.load
    (19) /etc/apache2/sites-enabled/000-default.conf
    (19) /etc/apache2/sites-enabled/shop.conf
      (9) /etc/apache2/snippets/proxy.conf
VirtualHost configuration:
[::1]:8443             multi.example.com (/etc/apache2/sites-enabled/shop.conf:15)
*:443                  is a NameVirtualHost
         default server shop.example.com (/etc/apache2/sites-enabled/shop.conf:1)
         port 443 namevhost shop.example.com (/etc/apache2/sites-enabled/shop.conf:1)
                 alias www.shop.example.com
                 wild alias *.shop.example.com
         port 443 namevhost other.example.com (/etc/apache2/sites-enabled/shop.conf:11)
*:80                   localhost (/etc/apache2/sites-enabled/000-default.conf:1)
ServerRoot: "/etc/apache2"
Main DocumentRoot: "/var/www/html"
Main ErrorLog: "/var/log/apache2/error.log"
Mutex default: dir="/var/run/apache2/" mechanism=default 
PidFile: "/var/run/apache2/apache2.pid"
Define: DUMP_INCLUDES
Define: DUMP_VHOSTS
Define: DUMP_RUN_CFG
Define: DUMP_MODULES
Define: APP_ROOT=/srv/app
Define: ENABLE_EXTRA
User: name="www-data" id=33
Group: name="www-data" id=33
Loaded Modules:
 core_module (static)
 ssl_module (shared)
 proxy_module (shared)
)";

const std::map<std::string, std::string> k_files = {
  {"/etc/apache2/apache2.conf", R"(ServerName localhost
# a comment
SSLEngine off
<IfModule mod_nonexistent.c>
  DocumentRoot /inactive
</IfModule>

<IfModule !mod_ssl.c>
</IfModule>
IncludeOptional mods-enabled/*.load
<IfDefine ENABLE_EXTRA>
  Alias /extra "/srv/extra"
</IfDefine>
<IfDefine !ENABLE_EXTRA>
  Alias /never /srv/never
</IfDefine>
Listen 80
Listen 443 https
IncludeOptional sites-enabled/*.conf
)"},
  {"/etc/apache2/mods-enabled/ssl.load",
   "LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so\n"},
  {"/etc/apache2/sites-enabled/000-default.conf", R"(<VirtualHost *:80>
	ServerAdmin webmaster@localhost
	DocumentRoot /var/www/html
</VirtualHost>
)"},
  {"/etc/apache2/sites-enabled/shop.conf", R"(<VirtualHost *:443>
  ServerName https://shop.example.com:443
  ServerAlias www.shop.example.com *.shop.example.com
  DocumentRoot "${APP_ROOT}/public"
  SSLEngine on
  SSLCertificateFile /etc/ssl/shop.pem
  SSLCertificateKeyFile \
      /etc/ssl/shop.key
  Include snippets/proxy.conf
</VirtualHost>
<VirtualHost *:443>
  ServerName other.example.com
  documentroot ${UNKNOWN_ENV}/x
</VirtualHost>
<VirtualHost *:8443 [::1]:8443>
  ServerName multi.example.com
  <Location /app>
    ProxyPass http://127.0.0.1:8080/
  </Location>
  SetHandler "proxy:unix:/run/php/php-fpm.sock|fcgi://localhost"
</VirtualHost>
<VirtualHost *:9999>
  ServerName inactive.example.com
  DocumentRoot /never
</VirtualHost>
)"},
  {"/etc/apache2/snippets/proxy.conf", R"(ProxyPass /api http://127.0.0.1:9000/api retry=0
ProxyPass /skip !
ProxyPassMatch ^/(.*)$ http://127.0.0.1:9001/$1
<Proxy balancer://pool>
  BalancerMember http://localhost:7000
</Proxy>
ProxyPass /pool balancer://pool/
)"},
};

util::Result<std::string>
read_from_map(const std::string& path)
{
  const auto found = k_files.find(path);
  if (found == k_files.end()) {
    return util::make_error(util::Errc::io,
                            fmt::format("{}: cannot open: No such file or directory", path));
  }
  return found->second;
}

} // namespace

TEST_CASE("webserver apache: the dump's includes, virtual hosts, run config and modules",
          "[webserver]")
{
  const auto dump = checks::webserver::parse_apache_dump(k_dump);
  INFO(testutil::error_message(dump));
  REQUIRE(dump);
  REQUIRE(dump->includes.size() == 5);
  CHECK(dump->includes[0].depth == 0);
  CHECK(dump->includes[4].depth == 2);
  CHECK(dump->includes[4].line == 9);
  CHECK(dump->includes[4].path == "/etc/apache2/snippets/proxy.conf");
  CHECK(dump->server_root == "/etc/apache2");
  CHECK(dump->main_document_root == "/var/www/html");
  CHECK(dump->user == "www-data");
  CHECK(dump->defines
        == std::map<std::string, std::string, std::less<>>{{"APP_ROOT", "/srv/app"},
                                                           {"ENABLE_EXTRA", ""}});
  CHECK(dump->modules.contains("ssl_module"));
  REQUIRE(dump->virtual_hosts.size() == 5);
  CHECK(dump->virtual_hosts[0].address == "[::1]:8443");
  CHECK(dump->virtual_hosts[0].where.text() == "/etc/apache2/sites-enabled/shop.conf:15");
  CHECK(dump->virtual_hosts[2].address == "*:443");
  CHECK(
    dump->virtual_hosts[2].names
    == std::vector<std::string>{"shop.example.com", "www.shop.example.com", "*.shop.example.com"});
  CHECK(dump->virtual_hosts[4].address == "*:80");
}

TEST_CASE("webserver apache: output that is not the dump is a protocol error", "[webserver]")
{
  for (const auto* text : {"", "Syntax OK\n", "Included configuration files:\n  (*) /a.conf\n"}) {
    INFO(text);
    const auto dump = checks::webserver::parse_apache_dump(text);
    REQUIRE_FALSE(dump);
    CHECK(dump.error().code == util::Errc::protocol);
  }
  const auto odd = checks::webserver::parse_apache_dump(
    "Included configuration files:\n      (3) /nested-first.conf\nVirtualHost configuration:\n");
  REQUIRE_FALSE(odd);
}

TEST_CASE(
  "webserver apache: virtual hosts from the dump, directives from their files in include order",
  "[webserver]")
{
  const auto dump = checks::webserver::parse_apache_dump(k_dump);
  REQUIRE(dump);
  const auto config = checks::webserver::read_apache_config(*dump, read_from_map);
  INFO(testutil::error_message(config));
  REQUIRE(config);
  CHECK(config->worker_user == "www-data");
  REQUIRE(config->servers.size() == 4);

  const auto& multi = config->servers[0];
  CHECK(multi.where.text() == "/etc/apache2/sites-enabled/shop.conf:15");
  CHECK(multi.names == std::vector<std::string>{"multi.example.com"});
  REQUIRE(multi.listeners.size() == 1); // [::1]:8443; the *:8443 address is not listed by -S
  CHECK(multi.listeners[0].host == "::1");
  CHECK_FALSE(multi.listeners[0].tls);

  const auto& shop = config->servers[1];
  CHECK(
    shop.names
    == std::vector<std::string>{"shop.example.com", "www.shop.example.com", "*.shop.example.com"});
  REQUIRE(shop.listeners.size() == 1);
  CHECK(shop.listeners[0].tls);
  CHECK(shop.listeners[0].port == 443);
  REQUIRE(shop.certificates.size() == 1);
  CHECK(shop.certificates[0].certificate == "/etc/ssl/shop.pem");
  CHECK(shop.certificates[0].key == "/etc/ssl/shop.key");
  CHECK(shop.certificates[0].where.text() == "/etc/apache2/sites-enabled/shop.conf:6");
  CHECK(shop.default_site.empty());

  const auto& other = config->servers[2];
  CHECK_FALSE(other.listeners[0].tls); // SSLEngine off in the main server, not on here
  CHECK(other.certificates.empty());

  const auto& fallback = config->servers[3];
  CHECK(fallback.default_site
        == "the distribution's default site (/etc/apache2/sites-enabled/000-default.conf)");

  std::vector<std::string> paths;
  for (const auto& path : config->paths) {
    paths.push_back(fmt::format("{} {} {}", path.directive, path.path, path.where.text()));
  }
  CHECK(paths
        == std::vector<std::string>{
          "Alias /srv/extra /etc/apache2/apache2.conf:12",
          "DocumentRoot /var/www/html /etc/apache2/sites-enabled/000-default.conf:3",
          "DocumentRoot /srv/app/public /etc/apache2/sites-enabled/shop.conf:4",
        });
  std::vector<std::string> upstreams;
  for (const auto& target : config->upstreams) {
    upstreams.push_back(fmt::format("{} {}", target.shown, target.where.text()));
  }
  CHECK(upstreams
        == std::vector<std::string>{
          "127.0.0.1:9000 /etc/apache2/snippets/proxy.conf:1",
          "localhost:7000 /etc/apache2/snippets/proxy.conf:5",
          "127.0.0.1:8080 /etc/apache2/sites-enabled/shop.conf:18",
          "unix:/run/php/php-fpm.sock /etc/apache2/sites-enabled/shop.conf:20",
        });
  std::vector<std::string> skipped;
  for (const auto& entry : config->skipped) {
    skipped.push_back(entry.what);
  }
  CHECK(skipped
        == std::vector<std::string>{
          "proxypassmatch ^/(.*)$ http://127.0.0.1:9001/$1: a regular expression's capture",
          "documentroot ${UNKNOWN_ENV}/x: an environment variable readygate does not know",
        });
}

TEST_CASE("webserver apache: unbalanced sections, unreadable files and vanished hosts are errors",
          "[webserver]")
{
  const auto dump = checks::webserver::parse_apache_dump(
    "Included configuration files:\n  (*) /a.conf\nVirtualHost configuration:\n"
    "*:80                   a (/a.conf:1)\n");
  REQUIRE(dump);
  const auto with = [&](std::string text) {
    return checks::webserver::read_apache_config(
      *dump, [text](const std::string&) -> util::Result<std::string> { return text; });
  };
  const auto crossed = with("<VirtualHost *:80>\n<Directory /x>\n</VirtualHost>\n");
  REQUIRE_FALSE(crossed);
  CHECK_THAT(crossed.error().message,
             Catch::Contains("/a.conf:3: </virtualhost> closes <directory>"));
  const auto open = with("<VirtualHost *:80>\n<Directory /x>\n");
  REQUIRE_FALSE(open);
  CHECK_THAT(open.error().message, Catch::Contains("/a.conf:2: <directory> is not closed"));
  const auto stray = with("<VirtualHost *:80>\n</VirtualHost>\n</Directory>\n");
  REQUIRE_FALSE(stray);
  CHECK_THAT(stray.error().message, Catch::Contains("/a.conf:3: </directory> without its opening"));
  const auto moved = with("\n<VirtualHost *:80>\n</VirtualHost>\n");
  REQUIRE_FALSE(moved);
  CHECK_THAT(moved.error().message,
             Catch::Contains("the virtual host at /a.conf:1 is not in its file"));
  const auto unreadable = checks::webserver::read_apache_config(
    *dump, [](const std::string&) -> util::Result<std::string> {
      return util::make_error(util::Errc::permission, "/a.conf: cannot open: Permission denied");
    });
  REQUIRE_FALSE(unreadable);
  CHECK(unreadable.error().code == util::Errc::permission);
}

TEST_CASE("webserver apache: without virtual hosts the main server answers on every Listen",
          "[webserver]")
{
  const auto dump = checks::webserver::parse_apache_dump(
    "Included configuration files:\n  (*) /etc/httpd/conf/httpd.conf\n    (4) "
    "/etc/httpd/conf.d/welcome.conf\n"
    "VirtualHost configuration:\nServerRoot: \"/etc/httpd\"\nMain DocumentRoot: \"/srv/www\"\n");
  REQUIRE(dump);
  const auto config = checks::webserver::read_apache_config(
    *dump, [](const std::string& path) -> util::Result<std::string> {
      if (path.ends_with("welcome.conf")) {
        return std::string("<LocationMatch \"^/+$\">\n</LocationMatch>\n");
      }
      return std::string(
        "ServerName www.example.com\nListen 8080\nDocumentRoot /srv/www\nInclude conf.d/*.conf\n");
    });
  INFO(testutil::error_message(config));
  REQUIRE(config);
  REQUIRE(config->servers.size() == 2);
  CHECK(config->servers[0].names == std::vector<std::string>{"www.example.com"});
  REQUIRE(config->servers[0].listeners.size() == 1);
  CHECK(config->servers[0].listeners[0].port == 8080);
  CHECK(config->servers[0].default_site.empty());
  CHECK(config->servers[1].default_site
        == "the distribution's welcome page (/etc/httpd/conf.d/welcome.conf)");
}

TEST_CASE("webserver apache: names match case-insensitively with * and ? wildcards", "[webserver]")
{
  checks::webserver::VirtualServer server;
  server.syntax = checks::webserver::NameSyntax::apache;
  server.names = {"www.example.com", "*.shop.example.com", "api-?.example.com"};
  using checks::webserver::serves_name;
  CHECK(serves_name(server, "WWW.example.com"));
  CHECK(serves_name(server, "a.shop.example.com"));
  CHECK(serves_name(server, "a.b.shop.example.com")); // Apache's * crosses dots
  CHECK(serves_name(server, "api-1.example.com"));
  CHECK_FALSE(serves_name(server, "api-12.example.com"));
  CHECK_FALSE(serves_name(server, "shop.example.com"));
}
