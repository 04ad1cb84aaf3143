// Read a check's kind-specific keys with uniform messages, against the kind's key table: a key
// the table does not name is an error, so a typo in a deploy gate is reported (with a suggestion),
// never a silently skipped check.
#pragma once

#include <config/config.hpp>
#include <config/keys.hpp>
#include <hook/util/result.hpp>
#include <hook/util/secret.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace config {

// --- Interface ---

class FieldReader
{
public:
  // Read the params of `spec` as the kind with `keys` declares them; both must outlive the reader.
  FieldReader(const CheckSpec& spec, KeyTable keys);

  // Return every unknown key of the spec (one line each, in file order, with "did you mean" when
  // one key of the table is close), then every missing required key, as one Errc::config error.
  // Call it first: a typo is then reported as a typo, not as whatever it left missing.
  util::Result<void> check_keys() const;

  util::Result<std::string> required_string(std::string_view key);
  util::Result<std::optional<std::string>> optional_string(std::string_view key);
  util::Result<std::optional<std::int64_t>>
  optional_integer(std::string_view key, std::int64_t min, std::int64_t max);
  util::Result<std::optional<bool>> optional_bool(std::string_view key);
  util::Result<std::optional<std::chrono::milliseconds>> optional_duration(std::string_view key);
  // An absent key gives an empty list.
  util::Result<std::vector<std::string>> string_array(std::string_view key);
  // A string or an array of strings; an absent key gives an empty list.
  util::Result<std::vector<std::string>> string_or_array(std::string_view key);
  // An integer or an array of integers in [`min`, `max`]; an absent key gives an empty list.
  util::Result<std::vector<std::int64_t>>
  integer_or_array(std::string_view key, std::int64_t min, std::int64_t max);
  // A table of string values (such as HTTP headers); an absent key gives an empty map.
  util::Result<std::vector<std::pair<std::string, std::string>>> string_table(std::string_view key);
  // A path; a relative one is taken from the config file's directory.
  util::Result<std::filesystem::path> required_path(std::string_view key);
  util::Result<std::optional<std::filesystem::path>> optional_path(std::string_view key);
  // A secret from `<base>_env` (a variable's name) or `<base>_file` (a path), at most one of them.
  // A value that is not a variable's name (or, for a file, that looks like the secret itself: a
  // URL, key=value pairs) is an error that does not show it: it may be the secret.
  util::Result<std::optional<util::SecretSource>> optional_secret(std::string_view base);
  // A table of secrets from `key` (values are variable names when `kind` is env, paths when file),
  // such as headers_env = { Authorization = "API_TOKEN" }, checked as optional_secret does.
  util::Result<std::vector<std::pair<std::string, util::SecretSource>>>
  secret_table(std::string_view key, util::SecretSource::Kind kind);
  // The path of a file that holds secrets (a Docker config), checked as optional_secret does.
  util::Result<std::optional<std::filesystem::path>> optional_secret_path(std::string_view key);

  // A string that must be one of `allowed`.
  util::Result<std::optional<std::string>>
  optional_choice(std::string_view key, const std::vector<std::string_view>& allowed);

  // Return true when `key` is present.
  bool has(std::string_view key) const;

  // Return an Errc::config error for `key` ("file:line:col: check "id" (kind): key "k": ...").
  util::Error error_at(std::string_view key, std::string_view message) const;
  // Return an Errc::config error for the check as a whole.
  util::Error error(std::string_view message) const;

private:
  // Return the errors for a secret's source that is not what `key` expects (`entry` names the
  // entry of a table key, "" for a plain key), without its value.
  util::Error not_a_variable_name(std::string_view key, std::string_view entry) const;
  util::Error not_a_secret_path(std::string_view key, std::string_view entry) const;

  // Return the node of `key`, which the key table must declare (a bug otherwise: Fatal).
  const toml::node* find(std::string_view key) const;
  std::string position_of_key(std::string_view key) const;

  const CheckSpec& m_spec;
  KeyTable m_keys;
};

} // namespace config
