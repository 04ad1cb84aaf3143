// HAProxy: its configuration files read directly (HAProxy has no dump of its effective
// configuration): frontends (binds, certificates, the names Host/SNI rules route on) and backend
// servers.
#pragma once

#include <checks/webserver/apache.hpp>
#include <checks/webserver/model.hpp>
#include <hook/util/result.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace checks::webserver {

// --- Interface ---

// Split one configuration line into words as HAProxy does: white space separates them; '...'
// is literal; "..." and unquoted text take backslash escapes; an unquoted '#' starts a comment.
std::vector<std::string> haproxy_words(std::string_view line);

// Read what the check needs out of the configuration `files` (in the order HAProxy reads them),
// each read with `read_file` (so are crt-list files). Relative certificate paths are taken from
// `crt-base`, else from the directory of the file that names them.
util::Result<ServerConfig> read_haproxy_config(const std::vector<std::string>& files,
                                               const FileReader& read_file);

} // namespace checks::webserver
