// Read a check's kind-specific keys with uniform messages. Every key a kind reads is marked, and
// finish() rejects the rest, so a typo in a deploy gate is an error, never a silently skipped
// check.
#pragma once

#include <config/config.hpp>
#include <hook/util/result.hpp>

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
  // Read the params of `spec`, which must outlive the reader.
  explicit FieldReader(const CheckSpec& spec);

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
  // A string that must be one of `allowed`.
  util::Result<std::optional<std::string>>
  optional_choice(std::string_view key, const std::vector<std::string_view>& allowed);

  // Return true when `key` is present (and mark it read).
  bool has(std::string_view key);

  // Return an Errc::config error for `key` ("file:line:col: check "id" (kind): key "k": ...").
  util::Error error_at(std::string_view key, std::string_view message) const;
  // Return an Errc::config error for the check as a whole.
  util::Error error(std::string_view message) const;

  // Reject every key no accessor was asked for.
  util::Result<void> finish() const;

private:
  const toml::node* find(std::string_view key);
  std::string position_of_key(std::string_view key) const;

  const CheckSpec& m_spec;
  std::set<std::string, std::less<>> m_read;
};

} // namespace config
