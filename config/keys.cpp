#include "keys.hpp"

#include <hook/util/text.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <vector>

namespace config {

namespace {

// clang-format off
constexpr std::array k_common_check_keys = {
  KeySpec{"id",         KeyType::string,       true,  "",      false, "unique name of the check, used in reports, --only and depends_on"},
  KeySpec{"kind",       KeyType::string,       true,  "",      false, "what the check looks at (see readygate help)"},
  KeySpec{"timeout",    KeyType::duration,     false, "[gate] default_timeout", false, "how long one attempt may take"},
  KeySpec{"retry",      KeyType::boolean,      false, "false", false, "re-run while it fails or errors, every retry_interval, until the deadline"},
  KeySpec{"tags",       KeyType::string_array, false, "[]",    false, "labels for --tag and --skip-tag"},
  KeySpec{"depends_on", KeyType::string_array, false, "[]",    false, "ids of earlier checks that must pass before this one runs"},
};
// clang-format on

// Return the optimal string alignment distance between `a` and `b`, or `limit` + 1 once it is
// certain to be larger than `limit`.
std::size_t
edit_distance(std::string_view a, std::string_view b, std::size_t limit)
{
  if ((a.size() > b.size() ? a.size() - b.size() : b.size() - a.size()) > limit) {
    return limit + 1;
  }
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) {
    d[i][0] = i;
  }
  for (std::size_t j = 0; j <= b.size(); ++j) {
    d[0][j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

} // namespace

std::string_view
key_type_name(KeyType type)
{
  switch (type) {
  case KeyType::string:
    return "string";
  case KeyType::boolean:
    return "boolean";
  case KeyType::integer:
    return "integer";
  case KeyType::duration:
    return "duration";
  case KeyType::path:
    return "path";
  case KeyType::strings:
    return "string or array of strings";
  case KeyType::string_array:
    return "array of strings";
  case KeyType::integers:
    return "integer or array of integers";
  case KeyType::string_table:
    return "table of strings";
  case KeyType::tables:
    return "array of tables";
  }
  return "value";
}

std::optional<std::string_view>
closest_key(std::string_view wanted, KeyTable keys)
{
  const auto lowered = util::to_lower(wanted);
  std::optional<std::string_view> best;
  std::size_t best_distance = 3;
  bool tied = false;
  for (const auto& key : keys) {
    if (util::to_lower(key.name) == lowered) {
      return key.name;
    }
    // Short names are easily "close" to anything: allow one edit below five letters.
    const std::size_t limit = key.name.size() < 5 ? 1 : 2;
    const auto distance = edit_distance(wanted, key.name, limit);
    if (distance > limit) {
      continue;
    }
    if (distance < best_distance) {
      best = key.name;
      best_distance = distance;
      tied = false;
    } else if (distance == best_distance) {
      tied = true;
    }
  }
  return tied ? std::nullopt : best;
}

std::string
describe_keys(KeyTable keys)
{
  std::size_t width = 0;
  for (const auto& key : keys) {
    width = std::max(width, key.name.size());
  }
  std::string text;
  for (const auto& key : keys) {
    const auto when = key.required               ? std::string("required")
                      : key.default_text.empty() ? std::string("optional")
                                                 : fmt::format("default {}", key.default_text);
    text += fmt::format("  {:<{}}  {} ({}{}): {}\n",
                        key.name,
                        width,
                        key_type_name(key.type),
                        when,
                        key.secret ? ", names a secret" : "",
                        key.doc);
  }
  return text;
}

KeyTable
common_check_keys()
{
  return k_common_check_keys;
}

} // namespace config
