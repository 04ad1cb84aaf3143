// A kind's keys, declared once: name, type, required, default, secret, one line of doc. The table
// drives validation (unknown keys first, each with a suggestion), `readygate help <kind>`, and the
// test that the README documents exactly these keys.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace config {

// --- Interface ---

enum class KeyType : std::uint8_t {
  string,
  boolean,
  integer,
  duration,     // a string with a unit: "500ms", "30s", "5m", "1h"
  path,         // a string; relative paths are taken from the config file's directory
  strings,      // a string or an array of strings
  string_array, // an array of strings
  integers,     // an integer or an array of integers
  string_table, // a table of strings
  tables,       // an array of tables ([[check.probe]])
};

struct KeySpec
{
  std::string_view name;
  KeyType type;
  bool required = false;
  std::string_view default_text; // what an absent key means, for help; "" when nothing
  // The key names where a secret comes from (an environment variable, a file); the secret itself
  // is read at run time, never printed.
  bool secret = false;
  std::string_view doc;
};

using KeyTable = std::span<const KeySpec>;

// Return how `type` is written in help and messages: "string", "duration", ...
std::string_view key_type_name(KeyType type);

// Return the one name of `names` that `wanted` is a likely misspelling of (at most two edits,
// a swap of neighbours counting as one, or a difference of case only), or nullopt when none or
// more than one is that close.
std::optional<std::string_view> closest_key(std::string_view wanted, KeyTable keys);

// Return the help text of `keys`: one line per key with its type, default or "required", and doc.
std::string describe_keys(KeyTable keys);

// The keys every [[check]] has, whatever its kind.
KeyTable common_check_keys();

} // namespace config
