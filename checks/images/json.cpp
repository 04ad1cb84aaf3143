#include "json.hpp"

#include <fmt/format.h>

namespace checks::images {

util::Result<boost::json::value>
parse_json(std::string_view text, std::string_view what)
{
  boost::system::error_code error;
  boost::json::parse_options options;
  options.max_depth = 64;
  auto value = boost::json::parse(text, error, {}, options);
  if (error) {
    return util::make_error(util::Errc::protocol,
                            fmt::format("{}: not valid JSON ({})", what, error.message()));
  }
  return value;
}

const boost::json::string*
string_at(const boost::json::object& object, std::string_view key)
{
  const auto* value = object.if_contains(key);
  return value != nullptr ? value->if_string() : nullptr;
}

const boost::json::object*
object_at(const boost::json::object& object, std::string_view key)
{
  const auto* value = object.if_contains(key);
  return value != nullptr ? value->if_object() : nullptr;
}

const boost::json::array*
array_at(const boost::json::object& object, std::string_view key)
{
  const auto* value = object.if_contains(key);
  return value != nullptr ? value->if_array() : nullptr;
}

} // namespace checks::images
