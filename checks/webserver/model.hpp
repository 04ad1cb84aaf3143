// What readygate reads out of a web server's effective configuration, whichever server it is:
// the virtual servers (names, listeners, certificates), the paths it serves files from and the
// upstreams it forwards to, each with the file and line it came from. Each server's reader
// (nginx.hpp, apache.hpp, haproxy.hpp) fills it; the check judges it without knowing the server.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace checks::webserver {

// --- Interface ---

// Where a directive stood in the server's configuration.
struct Place
{
  std::string file;
  std::size_t line = 0; // 1-based; 0 when unknown

  // Return "file:line" ("file" alone when the line is unknown).
  std::string text() const;
};

// One address a virtual server accepts connections on.
struct Listener
{
  std::string host;      // an address or a name; "" for every address (IPv4 and/or IPv6)
  bool ipv6_any = false; // with host "": the wildcard was IPv6 ([::]:443)
  std::uint16_t port = 0;
  std::string unix_path; // set for a unix socket (host and port unused)
  bool tls = false;
  Place where;
};

// A certificate the server presents, with its key.
struct CertificateUse
{
  std::string certificate; // absolute path
  std::string key;         // absolute path; "" when the key is in the certificate file
  // Intermediates sent after the certificate, besides those of its own file: a file (Apache's
  // SSLCertificateChainFile) or a directory of them (HAProxy's issuers-chain-path); "" for none.
  std::string chain;
  // HAProxy: when the certificate file holds no key, the key is "<certificate>.key"; and a
  // `crt` may name a directory, whose every certificate is loaded.
  bool haproxy_lookup = false;
  // The names this certificate must cover (HAProxy crt-list SNI filters); when empty, the names
  // of the virtual server that presents it.
  std::vector<std::string> names;
  Place where; // of the directive naming the certificate
};

// How a virtual server's names are written, so they are matched as the server matches them.
enum class NameSyntax : std::uint8_t {
  nginx,  // exact, "*.example.com", "www.example.*", ".example.com", "~regex"
  apache, // exact or with shell wildcards * and ? (ServerAlias), case-insensitive
  exact,  // compared as written, case-insensitive (the names HAProxy's Host/SNI rules name)
};

struct VirtualServer
{
  std::vector<std::string> names;
  NameSyntax syntax = NameSyntax::exact;
  std::vector<Listener> listeners;
  std::vector<CertificateUse> certificates; // what its TLS listeners present
  Place where;
  std::string default_site; // why this is the distribution's default site; "" when it is not
};

// A directory (or file) the server serves from: root, alias, DocumentRoot, Alias.
struct ServedPath
{
  std::string path;          // absolute
  std::string directive;     // as written in the configuration: "root", "alias", "DocumentRoot"
  bool file_allowed = false; // an alias may name a file; a root must be a directory
  Place where;
};

// Where the server forwards requests: an upstream's server, a proxy_pass, a backend's server.
struct UpstreamTarget
{
  std::string host; // an address or a name; "" for a unix socket
  std::uint16_t port = 0;
  std::string unix_path;
  std::string shown; // as written ("127.0.0.1:8080", "unix:/run/app.sock")
  Place where;
};

// A directive readygate read but could not check, for the report ("root /srv/$host: a variable").
struct Skipped
{
  std::string what;
  Place where;
};

struct ServerConfig
{
  std::vector<VirtualServer> servers;
  std::vector<ServedPath> paths;
  std::vector<UpstreamTarget> upstreams;
  // HAProxy: a frontend takes every Host (its rules choose a backend), so any frontend may serve
  // a name none of them routes on.
  bool every_server_takes_any_host = false;
  std::optional<std::string> worker_user; // the user that serves files, when the server has one
  std::vector<std::string> files;         // the configuration files, main first
  std::vector<Skipped> skipped;
};

// Return true when `name` (a host name, any case) is one of `server`'s names, matched the way
// the server matches the Host header. nginx's "" and "_" match nothing.
bool serves_name(const VirtualServer& server, std::string_view name);

// Return `path` made absolute against `base` ("" left as is), lexically normalised.
std::string absolute_path(std::string_view path, std::string_view base);

} // namespace checks::webserver
