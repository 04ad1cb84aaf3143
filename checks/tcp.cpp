#include "tcp.hpp"

#include <config/fields.hpp>

#include <fmt/format.h>

namespace checks {

namespace {

class TcpCheck final : public hook::Check
{
public:
  explicit TcpCheck(TcpSpec spec)
      : m_spec(std::move(spec))
  {}

  hook::CheckResult
  run(const hook::CheckContext& ctx) const override
  {
    return evaluate_tcp(
      m_spec,
      util::tcp_connect(m_spec.address.host, m_spec.address.port, ctx.time_left(), ctx.stop));
  }

private:
  TcpSpec m_spec;
};

} // namespace

util::Result<TcpSpec>
parse_tcp(const config::CheckSpec& check_spec)
{
  config::FieldReader reader(check_spec);
  reader.has("address");
  RG_TRY(reader.finish());
  RG_TRY_ASSIGN(const auto address, reader.required_string("address"));
  auto parsed = util::parse_host_port(address);
  if (!parsed) {
    return reader.error_at("address", parsed.error().message);
  }
  return TcpSpec{std::move(*parsed)};
}

util::Result<std::unique_ptr<hook::Check>>
create_tcp_check(const config::CheckSpec& spec)
{
  RG_TRY_ASSIGN(auto parsed, parse_tcp(spec));
  return std::unique_ptr<hook::Check>(std::make_unique<TcpCheck>(std::move(parsed)));
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
