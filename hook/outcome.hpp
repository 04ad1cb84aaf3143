// The one place a verdict becomes what the outside world sees: the exit code of a command, the
// HTTP status of `serve`'s health endpoint, and the result a lifecycle hook is completed with.
// Only a verdict of pass admits a host, by every route.
#pragma once

#include <hook/check.hpp>

#include <string_view>

namespace hook {

// --- Interface ---

inline constexpr int k_exit_pass = 0;      // every check passed: admit the host
inline constexpr int k_exit_fail = 1;      // a check failed: the host is not the release
inline constexpr int k_exit_error = 2;     // a check could not be verified
inline constexpr int k_exit_usage = 64;    // EX_USAGE: the command line is malformed
inline constexpr int k_exit_software = 70; // EX_SOFTWARE: a bug in readygate
inline constexpr int k_exit_config = 78;   // EX_CONFIG: the configuration is malformed

// Return the exit code for `verdict`: 0 pass, 1 fail, 2 error (and for anything else).
int exit_code_for(Status verdict);

// Return the HTTP status a health endpoint answers for `verdict`: 200 for pass, else 503.
int http_status_for(Status verdict);

// Return the lifecycle action result for `verdict`: "CONTINUE" for pass, else "ABANDON".
std::string_view lifecycle_result_for(Status verdict);

} // namespace hook
