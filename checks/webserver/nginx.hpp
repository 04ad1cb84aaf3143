// nginx: the configuration as `nginx -T` prints it (every file read, each after a
// "# configuration file PATH:" line), rebuilt into one tree with each include in its place, and
// what the check needs read out of it.
#pragma once

#include <checks/webserver/model.hpp>
#include <hook/util/result.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace checks::webserver {

// --- Interface ---

// One directive: `name args...;` or `name args... { children }`.
struct Directive
{
  std::string name;
  std::vector<std::string> args; // quotes removed, escapes resolved as nginx resolves them
  Place where;
  bool block = false;
  std::vector<Directive> children;
};

// One file of the dump.
struct DumpedFile
{
  std::string path; // as nginx printed it
  std::string text;
};

// Split the standard output of `nginx -T` into its files, in order. Output that does not start
// with a file line (nothing dumped) is Errc::protocol.
util::Result<std::vector<DumpedFile>> split_nginx_dump(std::string_view dump);

// Parse nginx syntax: `text` read from `file`. Unbalanced braces, a missing ';' and unterminated
// quotes are Errc::protocol errors naming file:line. The bodies of *_by_lua_block directives are
// skipped (Lua, not nginx syntax).
util::Result<std::vector<Directive>> parse_nginx_text(std::string_view text,
                                                      const std::string& file);

// Parse the whole dump: the first file with every `include` replaced by the files it matched
// (nginx prints a file once, however often it is included). A file of the dump that no include
// reaches (a comment that looks like a file line), an include cycle or more than
// `k_max_nginx_directives` directives is Errc::protocol.
util::Result<std::vector<Directive>> parse_nginx_dump(std::string_view dump);

inline constexpr std::size_t k_max_nginx_directives = 1'000'000;

// Read what the check needs out of `dump` (the output of `nginx -T`). `prefix` is nginx's -p
// prefix, which relative roots are taken from ("" when unknown: such roots are skipped); relative
// certificate paths are taken from the main file's directory, as nginx does.
util::Result<ServerConfig> read_nginx_config(std::string_view dump, std::string_view prefix);

} // namespace checks::webserver
