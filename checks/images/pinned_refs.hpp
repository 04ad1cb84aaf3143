// Finding the image references in the files that start containers: compose files and Kubernetes
// manifests (YAML, through yaml-cpp's event parser: every `image:` value, with the line of its
// mark; aliases are not expanded, so an anchored reference counts once where it is written),
// and text files (systemd units, quadlet .container files, env files, shell scripts): `docker`,
// `podman` or `nerdctl` `run`/`create`/`pull` commands, and assignments of a variable named
// IMAGE or *_IMAGE (`Image=` in quadlet files, `WEB_IMAGE=...` in env files).
#pragma once

#include <hook/util/result.hpp>

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace checks::images {

// --- Interface ---

struct FoundReference
{
  std::size_t line = 0; // 1-based
  std::string text;     // as written (quotes removed)
};

// Return true when `path` is read as YAML (.yml, .yaml, .json).
bool is_yaml_path(std::string_view path);

// Return every `image:` scalar of every document of the YAML `text`. A syntax error is an
// Errc::config error "`what`:LINE:COL: ...".
util::Result<std::vector<FoundReference>> scan_yaml(std::string_view text, std::string_view what);

// Return the image references of the text file `text` (see the header comment). Lines ending
// in a backslash continue on the next; lines starting with # or ; are comments.
std::vector<FoundReference> scan_text(std::string_view text);

// Return the variable assignments (NAME=value, `export NAME=value`, systemd's
// `Environment=NAME=value`) of the text file `text`, for expanding ${NAME} in references.
std::map<std::string, std::string> assignments_in(std::string_view text);

// Return true when every line of `text` that is not blank or a comment assigns a variable
// (NAME=value or `export NAME=value`): an env file, which may hold no image reference at all
// and only set the variables others use.
bool is_env_file(std::string_view text);

// Expand $NAME, ${NAME}, ${NAME:-default} and ${NAME-default} in `text` with `variables`
// (`$$` is a literal `$`). nullopt, with `missing` set to the first variable that has neither a
// value nor a default, when one cannot be expanded.
std::optional<std::string> expand_variables(std::string_view text,
                                            const std::map<std::string, std::string>& variables,
                                            std::string& missing);

} // namespace checks::images
