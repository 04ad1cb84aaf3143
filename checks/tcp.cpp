#include "tcp.hpp"

#include <checks/common.hpp>
#include <config/fields.hpp>

#include <fmt/format.h>

#include <array>

namespace checks {

namespace {

// clang-format off
constexpr std::array k_tcp_keys = {
  config::KeySpec{"address", config::KeyType::string, true, "", false, "host:port to connect to; IPv6 as [::1]:5432"},
};
// clang-format on

} // namespace

util::Result<TcpSpec>
parse_tcp(const config::CheckSpec& check_spec)
{
  config::FieldReader reader(check_spec, k_tcp_keys);
  RG_TRY(reader.check_keys());
  RG_TRY_ASSIGN(const auto address, reader.required_string("address"));
  if (address.find('\0') != std::string::npos) {
    return reader.error_at("address", "the address has a NUL byte");
  }
  auto parsed = util::parse_host_port(address);
  if (!parsed) {
    return reader.error_at("address", parsed.error().message);
  }
  return TcpSpec{std::move(*parsed)};
}

config::KeyTable
tcp_keys()
{
  return k_tcp_keys;
}

util::Result<std::unique_ptr<hook::Check>>
create_tcp_check(const config::CheckSpec& spec)
{
  return create_check<TcpSpec, parse_tcp, run_tcp>(spec);
}

hook::CheckResult
run_tcp(const TcpSpec& spec, const hook::CheckContext& ctx)
{
  return evaluate_tcp(spec,
                      ctx.probes.get<util::TcpConnector>()->connect(
                        spec.address.host, spec.address.port, ctx.time_left(), ctx.stop));
}

hook::CheckResult
evaluate_tcp(const TcpSpec& spec, const util::Result<std::chrono::milliseconds>& connected)
{
  if (!connected) {
    return hook::CheckResult::from_error(connected.error());
  }
  return hook::CheckResult::pass(fmt::format(
    "{}: connected in {} ms", util::format_host_port(spec.address), connected->count()));
}

} // namespace checks
