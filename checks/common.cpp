#include "common.hpp"

namespace checks {

util::Result<std::vector<hook::Expectation>>
read_expectations(config::FieldReader& fields,
                  std::string_view contains_key,
                  std::string_view matches_key)
{
  std::vector<hook::Expectation> expectations;
  RG_TRY_ASSIGN(auto needles, fields.string_or_array(contains_key));
  for (auto& needle : needles) {
    expectations.push_back(hook::Expectation::contains(std::move(needle)));
  }
  RG_TRY_ASSIGN(auto texts, fields.string_or_array(matches_key));
  for (auto& text : texts) {
    auto pattern = util::compile_pattern(std::move(text));
    if (!pattern) {
      return fields.error_at(matches_key, pattern.error().message);
    }
    expectations.push_back(hook::Expectation::matches(std::move(*pattern)));
  }
  return expectations;
}

} // namespace checks
