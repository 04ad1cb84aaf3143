// Reading JSON from engines and registries (Boost.JSON): parse failures are errors naming what was
// read, and fields are looked up by type without throwing.
#pragma once

#include <hook/util/result.hpp>

#include <boost/json.hpp>

#include <string>
#include <string_view>

namespace checks::images {

// --- Interface ---

// Parse `text`, an answer of `what` ("the engine's /version"), as JSON.
util::Result<boost::json::value> parse_json(std::string_view text, std::string_view what);

// Return the string at `key` of `object`, or nullptr when it is absent or not a string.
const boost::json::string* string_at(const boost::json::object& object, std::string_view key);

// Return the object at `key` of `object`, or nullptr when it is absent or not an object.
const boost::json::object* object_at(const boost::json::object& object, std::string_view key);

// Return the array at `key` of `object`, or nullptr when it is absent or not an array.
const boost::json::array* array_at(const boost::json::object& object, std::string_view key);

} // namespace checks::images
