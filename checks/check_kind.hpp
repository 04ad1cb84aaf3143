// The table of check kinds, and turning a config's specs into checks ready to run.
#pragma once

#include <config/config.hpp>
#include <config/keys.hpp>
#include <hook/check.hpp>
#include <hook/runner.hpp>
#include <hook/util/result.hpp>

#include <memory>
#include <span>
#include <string_view>
#include <vector>

namespace checks {

// --- Interface ---

struct CheckKind
{
  std::string_view name;      // the value of `kind = "..."`
  std::string_view summary;   // one line, for `readygate --help`
  config::KeyTable (*keys)(); // the kind's own keys (the common ones are config::common_check_keys)
  // Validate the kind's keys of `spec` and build the check. Every config error surfaces here,
  // before anything touches the host.
  util::Result<std::unique_ptr<hook::Check>> (*create)(const config::CheckSpec& spec);
};

// Return the built-in kinds, sorted by name.
std::span<const CheckKind> builtin_check_kinds();

// Return the kind called `name`, or nullptr.
const CheckKind* find_check_kind(std::string_view name);

// Build every check of `config`, in config order. Bad specs are one Errc::config error listing
// every problem found, one line each, with its position (a check with unknown keys lists all of
// them; otherwise its first problem).
util::Result<std::vector<hook::PlannedCheck>> instantiate(const config::Config& config);

} // namespace checks
