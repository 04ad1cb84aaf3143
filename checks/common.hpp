// What every kind shares: the check wrapper that turns a parsed spec and a run function into a
// hook::Check, and reading the shared expectation keys (`<subject>_contains`, `<subject>_matches`).
#pragma once

#include <config/config.hpp>
#include <config/fields.hpp>
#include <hook/check.hpp>
#include <hook/expect.hpp>
#include <hook/util/result.hpp>

#include <memory>
#include <string_view>
#include <utility>
#include <vector>

namespace checks {

// --- Interface ---

// A check of a kind whose spec is `Spec` and whose run is `run(spec, ctx)`.
template <typename Spec, hook::CheckResult (*Run)(const Spec&, const hook::CheckContext&)>
class SpecCheck final : public hook::Check
{
public:
  explicit SpecCheck(Spec spec)
      : m_spec(std::move(spec))
  {}

  hook::CheckResult
  run(const hook::CheckContext& ctx) const override
  {
    return Run(m_spec, ctx);
  }

private:
  Spec m_spec;
};

// Parse `spec` with `Parse` and wrap it with `Run`: a kind's whole `create` function.
template <typename Spec,
          util::Result<Spec> (*Parse)(const config::CheckSpec&),
          hook::CheckResult (*Run)(const Spec&, const hook::CheckContext&)>
util::Result<std::unique_ptr<hook::Check>>
create_check(const config::CheckSpec& spec)
{
  RG_TRY_ASSIGN(auto parsed, Parse(spec));
  return std::unique_ptr<hook::Check>(std::make_unique<SpecCheck<Spec, Run>>(std::move(parsed)));
}

// Read `contains_key` (a string or an array: each must be contained) and `matches_key` (a
// pattern or an array: each must match), compiling the patterns now so a bad one is a config
// error naming its key.
util::Result<std::vector<hook::Expectation>> read_expectations(config::FieldReader& fields,
                                                               std::string_view contains_key,
                                                               std::string_view matches_key);

} // namespace checks
