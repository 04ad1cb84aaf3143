// The `tcp` kind: is something accepting connections on host:port?
//
// Fail or error:
//   pass   a connection was made within the check's timeout (it is closed at once)
//   error  no connection: refused, timed out, name not resolved. A port nobody listens on means
//          the service is down, which readygate could not verify, so it is never a plain fail
//   (the kind has no fail: a connect either happens or could not be observed)
//
// Example:
//   [[check]]
//   id = "postgres-port"
//   kind = "tcp"
//   address = "127.0.0.1:5432"   # IPv6 as "[::1]:5432"; a name such as "db.internal:5432" too
//   timeout = "3s"
#pragma once

#include <config/config.hpp>
#include <config/keys.hpp>
#include <hook/check.hpp>
#include <hook/util/result.hpp>
#include <hook/util/tcp.hpp>

#include <chrono>
#include <memory>

namespace checks {

// --- Interface ---

struct TcpSpec
{
  util::HostPort address;
};

// Return the keys of the tcp kind.
config::KeyTable tcp_keys();

// Validate the keys of `spec` and build a tcp check.
util::Result<std::unique_ptr<hook::Check>> create_tcp_check(const config::CheckSpec& spec);

// Read and validate the tcp keys of `spec`; every config error names its key.
util::Result<TcpSpec> parse_tcp(const config::CheckSpec& spec);

// Connect through the TCP probe of `ctx` and judge it.
hook::CheckResult run_tcp(const TcpSpec& spec, const hook::CheckContext& ctx);

// Judge `connected`, the outcome of connecting to the address of `spec` (the connect time).
hook::CheckResult evaluate_tcp(const TcpSpec& spec,
                               const util::Result<std::chrono::milliseconds>& connected);

} // namespace checks
