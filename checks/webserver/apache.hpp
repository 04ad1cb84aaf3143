// Apache httpd: what `apachectl -t -D DUMP_INCLUDES -D DUMP_MODULES -D DUMP_VHOSTS -D
// DUMP_RUN_CFG` prints (every file read, the virtual hosts with their file:line, ServerRoot, User,
// Defines, loaded modules), and the included files themselves, read in the order Apache read them
// for what the dump does not say: DocumentRoot, Alias, certificates and proxy targets.
#pragma once

#include <checks/webserver/model.hpp>
#include <hook/util/result.hpp>

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace checks::webserver {

// --- Interface ---

struct ApacheDump
{
  struct Include
  {
    std::size_t depth = 0; // 0 for the main file
    std::size_t line = 0;  // the line of the Include directive in the including file; 0 for main
    std::string path;
  };
  struct VirtualHost
  {
    std::string address;            // "*:80", "127.0.0.1:8443", "[::1]:80", "_default_:443"
    std::vector<std::string> names; // the ServerName first, then aliases
    Place where;                    // of its <VirtualHost> line
  };
  std::vector<Include> includes; // in the order Apache read them
  std::vector<VirtualHost> virtual_hosts;
  std::string server_root;
  std::string main_document_root;
  std::optional<std::string> user;
  std::map<std::string, std::string, std::less<>> defines; // without the DUMP_* ones readygate set
  std::set<std::string, std::less<>> modules;              // "ssl_module", "core_module"
};

// Parse the standard output of the dump. Output without the include list or the virtual host
// list (another program, an older Apache) is Errc::protocol.
util::Result<ApacheDump> parse_apache_dump(std::string_view text);

// Return the text of the configuration file at `path`.
using FileReader = std::function<util::Result<std::string>(const std::string& path)>;

// Read what the check needs: the dump's virtual hosts, and DocumentRoot, Alias, SSL and proxy
// directives from the files (read with `read_file`), taking <IfModule> and <IfDefine> as the
// dump says and skipping <VirtualHost> sections the dump does not list. A file that cannot be
// read, or whose sections do not balance, is an error.
util::Result<ServerConfig> read_apache_config(const ApacheDump& dump, const FileReader& read_file);

} // namespace checks::webserver
