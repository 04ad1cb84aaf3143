#include "config.hpp"

#include <hook/util/duration.hpp>
#include <hook/util/file.hpp>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>

namespace config {

namespace {

using util::Errc;
using util::make_error;

constexpr std::string_view k_common_keys[] = {
  "depends_on", "id", "kind", "retry", "tags", "timeout"};

util::Error
error_at(const toml::node& node, const std::filesystem::path& origin, std::string_view message)
{
  return make_error(Errc::config, fmt::format("{}: {}", position_of(node, origin), message));
}

bool
valid_id(std::string_view id)
{
  if (id.empty() || id.size() > 128) {
    return false;
  }
  for (const char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '-' || c == '_' || c == '.';
    if (!ok) {
      return false;
    }
  }
  return true;
}

util::Result<std::chrono::milliseconds>
read_duration(const toml::node& node,
              const std::filesystem::path& origin,
              std::string_view where,
              std::string_view key)
{
  const auto* text = node.as_string();
  if (text == nullptr) {
    return error_at(
      node,
      origin,
      fmt::format("{}key \"{}\": expected a duration string such as \"30s\", found {}",
                  where,
                  key,
                  type_name_of(node)));
  }
  auto parsed = util::parse_duration(text->get());
  if (!parsed) {
    return error_at(
      node, origin, fmt::format("{}key \"{}\": {}", where, key, parsed.error().message));
  }
  if (parsed->count() == 0) {
    return error_at(node, origin, fmt::format("{}key \"{}\": must be longer than 0s", where, key));
  }
  return *parsed;
}

util::Result<std::vector<std::string>>
read_string_array(const toml::node& node,
                  const std::filesystem::path& origin,
                  std::string_view where,
                  std::string_view key)
{
  const auto* array = node.as_array();
  if (array == nullptr) {
    return error_at(
      node,
      origin,
      fmt::format(
        "{}key \"{}\": expected an array of strings, found {}", where, key, type_name_of(node)));
  }
  std::vector<std::string> values;
  for (const auto& element : *array) {
    const auto* text = element.as_string();
    if (text == nullptr) {
      return error_at(element,
                      origin,
                      fmt::format("{}key \"{}\": expected an array of strings, found {} in it",
                                  where,
                                  key,
                                  type_name_of(element)));
    }
    values.push_back(text->get());
  }
  return values;
}

util::Result<GateSettings>
parse_gate(const toml::table& table, const std::filesystem::path& origin)
{
  GateSettings gate;
  const std::string_view where = "[gate]: ";
  for (const auto& [key, node] : table) {
    const std::string_view name = key.str();
    if (name == "deadline" || name == "retry_interval" || name == "default_timeout") {
      RG_TRY_ASSIGN(const auto duration, read_duration(node, origin, where, name));
      if (name == "deadline") {
        gate.deadline = duration;
      } else if (name == "retry_interval") {
        gate.retry_interval = duration;
      } else {
        gate.default_timeout = duration;
      }
    } else if (name == "concurrency") {
      const auto* number = node.as_integer();
      if (number == nullptr || number->get() < 1 || number->get() > 256) {
        return error_at(
          node,
          origin,
          fmt::format("{}key \"concurrency\": expected an integer from 1 to 256", where));
      }
      gate.concurrency = static_cast<unsigned>(number->get());
    } else {
      return error_at(node,
                      origin,
                      fmt::format("{}unknown key \"{}\" (expected deadline, retry_interval, "
                                  "concurrency or default_timeout)",
                                  where,
                                  name));
    }
  }
  return gate;
}

util::Result<std::int64_t>
read_integer(const toml::node& node,
             const std::filesystem::path& origin,
             std::string_view where,
             std::string_view key,
             std::int64_t min,
             std::int64_t max)
{
  const auto* number = node.as_integer();
  if (number == nullptr || number->get() < min || number->get() > max) {
    return error_at(
      node,
      origin,
      fmt::format("{}key \"{}\": expected an integer from {} to {}", where, key, min, max));
  }
  return number->get();
}

util::Result<std::vector<util::HostPort>>
read_listen(const toml::node& node, const std::filesystem::path& origin, std::string_view where)
{
  const auto* array = node.as_array();
  if (array == nullptr || array->empty()) {
    return error_at(node,
                    origin,
                    fmt::format("{}key \"listen\": expected a non-empty array of \"address:port\" "
                                "strings, found {}",
                                where,
                                array == nullptr ? type_name_of(node) : "an empty array"));
  }
  std::vector<util::HostPort> addresses;
  for (const auto& element : *array) {
    const auto* text = element.as_string();
    if (text == nullptr) {
      return error_at(
        element,
        origin,
        fmt::format("{}key \"listen\": expected \"address:port\" strings, found {} in it",
                    where,
                    type_name_of(element)));
    }
    auto address = util::parse_listen_address(text->get());
    if (!address) {
      return error_at(
        element, origin, fmt::format("{}key \"listen\": {}", where, address.error().message));
    }
    for (const auto& earlier : addresses) {
      if (earlier.host == address->host && earlier.port == address->port) {
        return error_at(
          element,
          origin,
          fmt::format("{}key \"listen\": \"{}\" is listed twice", where, text->get()));
      }
    }
    addresses.push_back(std::move(*address));
  }
  return addresses;
}

util::Result<ServeSettings>
parse_serve(const toml::table& table, const std::filesystem::path& origin)
{
  ServeSettings serve;
  const std::string_view where = "[serve]: ";
  for (const auto& [key, node] : table) {
    const std::string_view name = key.str();
    if (name == "listen") {
      RG_TRY_ASSIGN(serve.listen, read_listen(node, origin, where));
    } else if (name == "interval") {
      RG_TRY_ASSIGN(serve.interval, read_duration(node, origin, where, name));
    } else if (name == "max_age") {
      RG_TRY_ASSIGN(serve.max_age, read_duration(node, origin, where, name));
    } else if (name == "idle_timeout") {
      RG_TRY_ASSIGN(serve.idle_timeout, read_duration(node, origin, where, name));
    } else if (name == "max_connections") {
      RG_TRY_ASSIGN(const auto value, read_integer(node, origin, where, name, 1, 10'000));
      serve.max_connections = static_cast<unsigned>(value);
    } else if (name == "max_request_bytes") {
      RG_TRY_ASSIGN(const auto value, read_integer(node, origin, where, name, 1024, 65'536));
      serve.max_request_bytes = static_cast<std::size_t>(value);
    } else if (name == "max_headers") {
      RG_TRY_ASSIGN(const auto value, read_integer(node, origin, where, name, 1, 1'000));
      serve.max_headers = static_cast<unsigned>(value);
    } else {
      return error_at(node,
                      origin,
                      fmt::format("{}unknown key \"{}\" (expected listen, interval, max_age, "
                                  "max_connections, max_request_bytes, max_headers or "
                                  "idle_timeout)",
                                  where,
                                  name));
    }
  }
  if (serve.max_age < serve.interval) {
    const auto* at = table.get("max_age");
    const toml::node& node = at != nullptr ? *at : static_cast<const toml::node&>(table);
    return error_at(
      node,
      origin,
      fmt::format("{}key \"max_age\": {} is shorter than interval ({}): every verdict "
                  "would go stale before the next run",
                  where,
                  util::format_duration(serve.max_age),
                  util::format_duration(serve.interval)));
  }
  return serve;
}

util::Result<CheckSpec>
parse_check(const toml::table& table,
            std::size_t index,
            const std::filesystem::path& origin,
            const std::filesystem::path& base_directory,
            const std::set<std::string, std::less<>>& earlier_ids)
{
  CheckSpec spec;
  spec.where = position_of(table.source(), origin);
  spec.base_directory = base_directory;
  spec.origin = origin;
  const auto table_error = [&](std::string_view message) {
    return make_error(Errc::config, fmt::format("{}: {}", spec.where, message));
  };

  const auto* id = table.get("id");
  if (id == nullptr) {
    return table_error(fmt::format("check #{}: missing key \"id\" (expected a string)", index + 1));
  }
  if (!id->is_string() || !valid_id(id->as_string()->get())) {
    return error_at(*id,
                    origin,
                    fmt::format("check #{}: key \"id\": expected a string of letters, digits, "
                                "'-', '_' or '.' (1 to 128 characters)",
                                index + 1));
  }
  spec.id = id->as_string()->get();
  if (earlier_ids.contains(spec.id)) {
    return error_at(*id, origin, fmt::format("check \"{}\": duplicate id", spec.id));
  }
  const auto* kind = table.get("kind");
  if (kind == nullptr || !kind->is_string() || kind->as_string()->get().empty()) {
    const toml::node& at = kind != nullptr ? *kind : static_cast<const toml::node&>(table);
    return error_at(
      at,
      origin,
      fmt::format("check \"{}\": key \"kind\": expected the name of a check kind", spec.id));
  }
  spec.kind = kind->as_string()->get();
  const auto where = fmt::format("check \"{}\" ({}): ", spec.id, spec.kind);

  for (const auto& [key, node] : table) {
    const std::string_view name = key.str();
    if (name == "id" || name == "kind") {
      continue;
    }
    if (name == "timeout") {
      RG_TRY_ASSIGN(spec.timeout, read_duration(node, origin, where, name));
    } else if (name == "retry") {
      const auto* flag = node.as_boolean();
      if (flag == nullptr) {
        return error_at(node,
                        origin,
                        fmt::format("{}key \"retry\": expected true or false, found {}",
                                    where,
                                    type_name_of(node)));
      }
      spec.retry = flag->get();
    } else if (name == "tags") {
      RG_TRY_ASSIGN(spec.tags, read_string_array(node, origin, where, name));
    } else if (name == "depends_on") {
      RG_TRY_ASSIGN(spec.depends_on, read_string_array(node, origin, where, name));
      for (const auto& dependency : spec.depends_on) {
        if (!earlier_ids.contains(dependency)) {
          return error_at(node,
                          origin,
                          fmt::format("{}key \"depends_on\": \"{}\" is not the id of a check "
                                      "defined before this one",
                                      where,
                                      dependency));
        }
      }
    } else {
      spec.params.insert(key, node);
      spec.param_sources.emplace(std::string(name), node.source());
      if (const auto* tables = node.as_array(); tables != nullptr && tables->is_array_of_tables()) {
        for (std::size_t i = 0; i < tables->size(); ++i) {
          const auto& element = *tables->get(i)->as_table();
          const auto prefix = fmt::format("{}[{}]", name, i);
          spec.param_sources.emplace(prefix, element.source());
          for (const auto& [inner_key, inner_node] : element) {
            spec.param_sources.emplace(fmt::format("{}.{}", prefix, inner_key.str()),
                                       inner_node.source());
          }
        }
      }
    }
  }
  return spec;
}

} // namespace

std::string_view
type_name_of(const toml::node& node)
{
  switch (node.type()) {
  case toml::node_type::string:
    return "a string";
  case toml::node_type::integer:
    return "an integer";
  case toml::node_type::floating_point:
    return "a float";
  case toml::node_type::boolean:
    return "a boolean";
  case toml::node_type::table:
    return "a table";
  case toml::node_type::array:
    return "an array";
  default:
    return "a date or time";
  }
}

std::string
position_of(const toml::source_region& source, const std::filesystem::path& origin)
{
  if (source.begin.line == 0) {
    return origin.string();
  }
  return fmt::format("{}:{}:{}", origin.string(), source.begin.line, source.begin.column);
}

std::string
position_of(const toml::node& node, const std::filesystem::path& origin)
{
  return position_of(node.source(), origin);
}

util::Result<Config>
parse_config(std::string_view text,
             const std::filesystem::path& origin,
             const std::filesystem::path& base_directory)
{
  toml::table root;
  try {
    root = toml::parse(text, origin.string());
  } catch (const toml::parse_error& error) {
    return make_error(
      Errc::config,
      fmt::format("{}: {}", position_of(error.source(), origin), error.description()));
  }

  Config config;
  config.path = origin;
  for (const auto& [key, node] : root) {
    const std::string_view name = key.str();
    if (name == "gate") {
      const auto* gate = node.as_table();
      if (gate == nullptr) {
        return error_at(node, origin, "key \"gate\": expected a table ([gate])");
      }
      RG_TRY_ASSIGN(config.gate, parse_gate(*gate, origin));
    } else if (name == "serve") {
      const auto* serve = node.as_table();
      if (serve == nullptr) {
        return error_at(node, origin, "key \"serve\": expected a table ([serve])");
      }
      RG_TRY_ASSIGN(config.serve, parse_serve(*serve, origin));
    } else if (name == "check") {
      const auto* checks = node.as_array();
      if (checks == nullptr || !checks->is_array_of_tables()) {
        return error_at(node, origin, "key \"check\": expected an array of tables ([[check]])");
      }
      std::set<std::string, std::less<>> ids;
      for (std::size_t i = 0; i < checks->size(); ++i) {
        RG_TRY_ASSIGN(auto spec,
                      parse_check(*checks->get(i)->as_table(), i, origin, base_directory, ids));
        ids.insert(spec.id);
        config.checks.push_back(std::move(spec));
      }
    } else if (name == "lifecycle") {
      const auto* lifecycle = node.as_table();
      if (lifecycle == nullptr) {
        return error_at(node, origin, "key \"lifecycle\": expected a table ([lifecycle])");
      }
      RG_TRY_ASSIGN(config.lifecycle, parse_lifecycle(*lifecycle, origin, base_directory));
    } else {
      return error_at(
        node,
        origin,
        fmt::format("unknown key \"{}\" (expected [gate], [serve], [lifecycle] or [[check]])", name));
    }
  }
  if (config.checks.empty()) {
    return make_error(
      Errc::config,
      fmt::format("{}: no [[check]] tables: a gate with nothing to check would admit "
                  "any host",
                  origin.string()));
  }
  return config;
}

util::Result<Config>
load_config(const std::filesystem::path& path,
            util::Clock::time_point deadline,
            std::stop_token stop)
{
  auto text = util::read_small_file(path, k_config_size_limit, deadline, std::move(stop));
  if (!text) {
    auto message = text.error().message;
    const auto shown = path.string();
    if (message.starts_with(shown + ": ")) {
      message.erase(0, shown.size() + 2);
    }
    return make_error(Errc::config,
                      fmt::format("{}: cannot read the configuration: {}", shown, message));
  }
  auto base = path.parent_path();
  if (base.empty()) {
    base = ".";
  }
  std::error_code ec;
  auto absolute_base = std::filesystem::absolute(base, ec);
  return parse_config(*text, path, ec ? base : absolute_base.lexically_normal());
}

} // namespace config
