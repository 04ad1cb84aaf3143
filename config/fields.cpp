#include "fields.hpp"

#include <hook/util/duration.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <vector>

namespace config {

FieldReader::FieldReader(const CheckSpec& spec, KeyTable keys)
    : m_spec(spec),
      m_keys(keys)
{}

const toml::node*
FieldReader::find(std::string_view key) const
{
  const bool declared = std::any_of(
    m_keys.begin(), m_keys.end(), [&](const KeySpec& known) { return known.name == key; });
  if (!declared) {
    throw util::Fatal(fmt::format(
      "kind \"{}\" reads key \"{}\", which its key table does not declare", m_spec.kind, key));
  }
  return m_spec.params.get(key);
}

bool
FieldReader::has(std::string_view key) const
{
  return find(key) != nullptr;
}

util::Result<void>
FieldReader::check_keys() const
{
  struct Unknown
  {
    toml::source_position at;
    std::string line;
  };
  std::vector<Unknown> unknown;
  for (const auto& [key, node] : m_spec.params) {
    const auto name = key.str();
    const bool declared = std::any_of(
      m_keys.begin(), m_keys.end(), [&](const KeySpec& known) { return known.name == name; });
    if (declared) {
      continue;
    }
    const auto close = closest_key(name, m_keys);
    const auto common = closest_key(name, common_check_keys());
    const auto hint = close    ? fmt::format(" (did you mean \"{}\"?)", *close)
                      : common ? fmt::format(" (did you mean \"{}\"?)", *common)
                               : std::string();
    const auto source = m_spec.param_sources.find(name);
    unknown.push_back(
      {source != m_spec.param_sources.end() ? source->second.begin : toml::source_position{},
       fmt::format("{}: check \"{}\" ({}): unknown key \"{}\"{}",
                   position_of_key(name),
                   m_spec.id,
                   m_spec.kind,
                   name,
                   hint)});
  }
  std::sort(unknown.begin(), unknown.end(), [](const Unknown& a, const Unknown& b) {
    return a.at.line != b.at.line ? a.at.line < b.at.line : a.at.column < b.at.column;
  });
  std::vector<std::string> lines;
  for (auto& entry : unknown) {
    lines.push_back(std::move(entry.line));
  }
  for (const auto& key : m_keys) {
    if (key.required && !m_spec.params.contains(key.name)) {
      lines.push_back(fmt::format("{}: check \"{}\" ({}): missing key \"{}\" (expected a {})",
                                  m_spec.where,
                                  m_spec.id,
                                  m_spec.kind,
                                  key.name,
                                  key_type_name(key.type)));
    }
  }
  if (lines.empty()) {
    return {};
  }
  return util::make_error(util::Errc::config, fmt::format("{}", fmt::join(lines, "\n")));
}

util::Error
FieldReader::error_at(std::string_view key, std::string_view message) const
{
  return util::make_error(util::Errc::config,
                          fmt::format("{}: check \"{}\" ({}): key \"{}\": {}",
                                      position_of_key(key),
                                      m_spec.id,
                                      m_spec.kind,
                                      key,
                                      message));
}

std::string
FieldReader::position_of_key(std::string_view key) const
{
  const auto source = m_spec.param_sources.find(key);
  return source != m_spec.param_sources.end() ? position_of(source->second, m_spec.origin)
                                              : m_spec.where;
}

util::Error
FieldReader::error(std::string_view message) const
{
  return util::make_error(
    util::Errc::config,
    fmt::format("{}: check \"{}\" ({}): {}", m_spec.where, m_spec.id, m_spec.kind, message));
}

util::Result<std::string>
FieldReader::required_string(std::string_view key)
{
  const auto* node = find(key);
  if (node == nullptr) {
    return error(fmt::format("missing key \"{}\" (expected a string)", key));
  }
  RG_TRY_ASSIGN(auto value, optional_string(key));
  return std::move(*value);
}

util::Result<std::optional<std::string>>
FieldReader::optional_string(std::string_view key)
{
  const auto* node = find(key);
  if (node == nullptr) {
    return std::optional<std::string>();
  }
  const auto* text = node->as_string();
  if (text == nullptr) {
    return error_at(key, fmt::format("expected a string, found {}", type_name_of(*node)));
  }
  return std::optional<std::string>(text->get());
}

util::Result<std::optional<std::int64_t>>
FieldReader::optional_integer(std::string_view key, std::int64_t min, std::int64_t max)
{
  const auto* node = find(key);
  if (node == nullptr) {
    return std::optional<std::int64_t>();
  }
  const auto* number = node->as_integer();
  if (number == nullptr) {
    return error_at(key, fmt::format("expected an integer, found {}", type_name_of(*node)));
  }
  if (number->get() < min || number->get() > max) {
    return error_at(
      key, fmt::format("expected an integer from {} to {}, found {}", min, max, number->get()));
  }
  return std::optional<std::int64_t>(number->get());
}

util::Result<std::optional<bool>>
FieldReader::optional_bool(std::string_view key)
{
  const auto* node = find(key);
  if (node == nullptr) {
    return std::optional<bool>();
  }
  const auto* flag = node->as_boolean();
  if (flag == nullptr) {
    return error_at(key, fmt::format("expected true or false, found {}", type_name_of(*node)));
  }
  return std::optional<bool>(flag->get());
}

util::Result<std::optional<std::chrono::milliseconds>>
FieldReader::optional_duration(std::string_view key)
{
  RG_TRY_ASSIGN(const auto text, optional_string(key));
  if (!text) {
    return std::optional<std::chrono::milliseconds>();
  }
  auto parsed = util::parse_duration(*text);
  if (!parsed) {
    return error_at(key, parsed.error().message);
  }
  return std::optional<std::chrono::milliseconds>(*parsed);
}

util::Result<std::vector<std::string>>
FieldReader::string_array(std::string_view key)
{
  const auto* node = find(key);
  std::vector<std::string> values;
  if (node == nullptr) {
    return values;
  }
  const auto* array = node->as_array();
  if (array == nullptr) {
    return error_at(key,
                    fmt::format("expected an array of strings, found {}", type_name_of(*node)));
  }
  for (const auto& element : *array) {
    const auto* text = element.as_string();
    if (text == nullptr) {
      return error_at(
        key, fmt::format("expected an array of strings, found {} in it", type_name_of(element)));
    }
    values.push_back(text->get());
  }
  return values;
}

util::Result<std::vector<std::string>>
FieldReader::string_or_array(std::string_view key)
{
  const auto* node = find(key);
  if (node != nullptr && node->is_string()) {
    return std::vector<std::string>{node->as_string()->get()};
  }
  if (node != nullptr && !node->is_array()) {
    return error_at(
      key, fmt::format("expected a string or an array of strings, found {}", type_name_of(*node)));
  }
  return string_array(key);
}

util::Result<std::vector<std::int64_t>>
FieldReader::integer_or_array(std::string_view key, std::int64_t min, std::int64_t max)
{
  const auto* node = find(key);
  std::vector<std::int64_t> values;
  if (node == nullptr) {
    return values;
  }
  const auto accept = [&](const toml::node& element) -> util::Result<void> {
    const auto* number = element.as_integer();
    if (number == nullptr || number->get() < min || number->get() > max) {
      return error_at(
        key, fmt::format("expected an integer from {} to {} or an array of them", min, max));
    }
    values.push_back(number->get());
    return {};
  };
  if (const auto* array = node->as_array()) {
    for (const auto& element : *array) {
      RG_TRY(accept(element));
    }
  } else {
    RG_TRY(accept(*node));
  }
  return values;
}

util::Result<std::vector<std::pair<std::string, std::string>>>
FieldReader::string_table(std::string_view key)
{
  const auto* node = find(key);
  std::vector<std::pair<std::string, std::string>> values;
  if (node == nullptr) {
    return values;
  }
  const auto* table = node->as_table();
  if (table == nullptr) {
    return error_at(key, fmt::format("expected a table of strings, found {}", type_name_of(*node)));
  }
  for (const auto& [name, value] : *table) {
    const auto* text = value.as_string();
    if (text == nullptr) {
      return error_at(key,
                      fmt::format("expected a table of strings, found {} for \"{}\"",
                                  type_name_of(value),
                                  name.str()));
    }
    values.emplace_back(std::string(name.str()), text->get());
  }
  return values;
}

util::Result<std::filesystem::path>
FieldReader::required_path(std::string_view key)
{
  RG_TRY_ASSIGN(const auto text, required_string(key));
  if (text.empty()) {
    return error_at(key, "expected a path, found an empty string");
  }
  return (m_spec.base_directory / text).lexically_normal();
}

util::Result<std::optional<std::filesystem::path>>
FieldReader::optional_path(std::string_view key)
{
  if (!has(key)) {
    return std::optional<std::filesystem::path>();
  }
  RG_TRY_ASSIGN(auto path, required_path(key));
  return std::optional<std::filesystem::path>(std::move(path));
}

namespace {

constexpr std::string_view k_not_shown = "the value is not shown: it may be the secret itself";

// Return true when `value`, given as the path of a secret's file, looks like the secret itself: a
// URL (a DSN), libpq's key=value pairs, a header value with its scheme, or text with a line break.
bool
looks_like_secret(std::string_view value)
{
  const auto blank = [](char c) { return c == ' ' || c == '\t'; };
  const auto word = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
  };
  // Count the key=value pairs: a word at the start or after a blank, then '='.
  std::size_t pairs = 0;
  for (std::size_t at = 0; at < value.size();) {
    std::size_t end = at;
    while (end < value.size() && word(value[end])) {
      ++end;
    }
    auto next = end;
    while (next < value.size() && blank(value[next])) {
      ++next;
    }
    if (end > at && next < value.size() && value[next] == '=') {
      ++pairs;
    }
    at = value.find_first_of(" \t", end);
    if (at == std::string_view::npos) {
      break;
    }
    while (at < value.size() && blank(value[at])) {
      ++at;
    }
  }
  const bool control = std::any_of(value.begin(), value.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7F;
  });
  return value.find("://") != std::string_view::npos || pairs >= 2 || control
         || value.starts_with("Bearer ") || value.starts_with("Basic ");
}

} // namespace

util::Error
FieldReader::not_a_variable_name(std::string_view key, std::string_view entry) const
{
  return error_at(key,
                  fmt::format("{}expected the name of an environment variable (letters, digits "
                              "and '_', not starting with a digit, such as \"DATABASE_URL\"); {}",
                              entry.empty() ? std::string() : fmt::format("\"{}\": ", entry),
                              k_not_shown));
}

util::Error
FieldReader::not_a_secret_path(std::string_view key, std::string_view entry) const
{
  return error_at(key,
                  fmt::format("{}expected the path of a file holding the secret, found what looks "
                              "like the secret itself (a URL, key=value pairs, a header value or "
                              "a line break); {}",
                              entry.empty() ? std::string() : fmt::format("\"{}\": ", entry),
                              k_not_shown));
}

util::Result<std::optional<std::filesystem::path>>
FieldReader::optional_secret_path(std::string_view key)
{
  RG_TRY_ASSIGN(const auto text, optional_string(key));
  if (text && looks_like_secret(*text)) {
    return not_a_secret_path(key, "");
  }
  return optional_path(key);
}

util::Result<std::optional<util::SecretSource>>
FieldReader::optional_secret(std::string_view base)
{
  const auto env_key = fmt::format("{}_env", base);
  const auto file_key = fmt::format("{}_file", base);
  RG_TRY_ASSIGN(const auto variable, optional_string(env_key));
  RG_TRY_ASSIGN(const auto path, optional_secret_path(file_key));
  if (variable && path) {
    return error_at(file_key,
                    fmt::format("set either \"{}\" or \"{}\", not both", env_key, file_key));
  }
  if (variable) {
    if (!util::is_variable_name(*variable)) {
      return not_a_variable_name(env_key, "");
    }
    return std::optional<util::SecretSource>(
      util::SecretSource{util::SecretSource::Kind::env, *variable});
  }
  if (path) {
    return std::optional<util::SecretSource>(
      util::SecretSource{util::SecretSource::Kind::file, path->string()});
  }
  return std::optional<util::SecretSource>();
}

util::Result<std::vector<std::pair<std::string, util::SecretSource>>>
FieldReader::secret_table(std::string_view key, util::SecretSource::Kind kind)
{
  RG_TRY_ASSIGN(auto entries, string_table(key));
  std::vector<std::pair<std::string, util::SecretSource>> secrets;
  for (auto& [name, value] : entries) {
    if (kind == util::SecretSource::Kind::env && !util::is_variable_name(value)) {
      return not_a_variable_name(key, name);
    }
    if (kind == util::SecretSource::Kind::file && looks_like_secret(value)) {
      return not_a_secret_path(key, name);
    }
    if (value.empty() || value.find('\0') != std::string::npos) {
      return error_at(key, fmt::format("\"{}\": expected the path of a file", name));
    }
    if (kind == util::SecretSource::Kind::file) {
      value = (m_spec.base_directory / value).lexically_normal().string();
    }
    secrets.emplace_back(std::move(name), util::SecretSource{kind, std::move(value)});
  }
  return secrets;
}

util::Result<std::optional<std::string>>
FieldReader::optional_choice(std::string_view key, const std::vector<std::string_view>& allowed)
{
  RG_TRY_ASSIGN(auto value, optional_string(key));
  if (!value) {
    return value;
  }
  for (const auto candidate : allowed) {
    if (*value == candidate) {
      return value;
    }
  }
  return error_at(
    key, fmt::format("expected one of \"{}\", found \"{}\"", fmt::join(allowed, "\", \""), *value));
}

} // namespace config
