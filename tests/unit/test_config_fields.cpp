#include "testutil.hpp"

#include <config/fields.hpp>
#include <config/keys.hpp>

#include <fmt/format.h>

#include <array>
#include <vector>

using namespace std::chrono_literals;
using config::KeySpec;
using config::KeyType;

namespace {

constexpr KeySpec
key(std::string_view name, KeyType type, bool required = false)
{
  return KeySpec{name, type, required, "", false, ""};
}

constexpr std::array k_demo_keys = {
  key("name", KeyType::string),
  key("count", KeyType::integer),
  key("flag", KeyType::boolean),
  key("wait", KeyType::duration),
  key("list", KeyType::string_array),
  key("one", KeyType::strings),
  key("codes", KeyType::integers),
  key("code", KeyType::integers),
  key("headers", KeyType::string_table),
  key("path", KeyType::path),
  key("mode", KeyType::string),
  key("absent", KeyType::string),
  key("absent2", KeyType::string_array),
  key("missing", KeyType::string),
};
constexpr std::array k_http_like_keys = {
  key("url", KeyType::string, true),
  key("status", KeyType::integers),
  key("root", KeyType::path),
  key("body", KeyType::string),
};

} // namespace

TEST_CASE("config::FieldReader: typed accessors", "[config]")
{
  const auto spec = testutil::spec_from(R"([[check]]
id = "c"
kind = "demo"
name = "x"
count = 3
flag = true
wait = "2s"
list = ["a", "b"]
one = "solo"
codes = [200, 204]
code = 200
headers = { Accept = "text/plain", X-Env = "prod" }
path = "rel/file"
mode = "fast"
)",
                                        "/etc/readygate");
  config::FieldReader fields(spec, k_demo_keys);
  CHECK(*fields.required_string("name") == "x");
  CHECK(**fields.optional_integer("count", 0, 10) == 3);
  CHECK(**fields.optional_bool("flag") == true);
  CHECK(**fields.optional_duration("wait") == 2s);
  CHECK(*fields.string_array("list") == std::vector<std::string>{"a", "b"});
  CHECK(*fields.string_or_array("one") == std::vector<std::string>{"solo"});
  CHECK(*fields.integer_or_array("codes", 100, 599) == std::vector<std::int64_t>{200, 204});
  CHECK(*fields.integer_or_array("code", 100, 599) == std::vector<std::int64_t>{200});
  const auto headers = *fields.string_table("headers");
  REQUIRE(headers.size() == 2);
  CHECK(headers[0] == std::pair<std::string, std::string>{"Accept", "text/plain"});
  CHECK(*fields.required_path("path") == "/etc/readygate/rel/file");
  CHECK(**fields.optional_choice("mode", {"fast", "slow"}) == "fast");
  CHECK_FALSE(*fields.optional_string("absent"));
  CHECK(fields.string_array("absent2")->empty());
  CHECK(fields.check_keys());
}

TEST_CASE("config::FieldReader: wrong types and values name the key and its position", "[config]")
{
  const auto spec = testutil::spec_from(R"([[check]]
id = "c"
kind = "demo"
name = 5
count = 30
mode = "medium"
wait = "2"
)");
  config::FieldReader fields(spec, k_demo_keys);
  CHECK(testutil::error_message(fields.required_string("name"))
        == "test.toml:4:8: check \"c\" (demo): key \"name\": expected a string, found an integer");
  CHECK(testutil::error_message(fields.optional_integer("count", 1, 10))
        == "test.toml:5:9: check \"c\" (demo): key \"count\": expected an integer from 1 to 10, "
           "found 30");
  CHECK_THAT(testutil::error_message(fields.optional_choice("mode", {"fast", "slow"})),
             Catch::Contains("key \"mode\": expected one of \"fast\", \"slow\", found \"medium\""));
  CHECK_THAT(testutil::error_message(fields.optional_duration("wait")),
             Catch::Contains("missing unit"));
  CHECK_THAT(testutil::error_message(fields.required_string("missing")),
             Catch::Contains("test.toml:1:1: check \"c\" (demo): missing key \"missing\""));
}

TEST_CASE("config::FieldReader::check_keys: every unknown key first, each with its position and "
          "a suggestion when one is close",
          "[config]")
{
  const auto spec =
    testutil::spec_from("[[check]]\nid = \"api\"\nkind = \"http\"\nsttaus = 200\n"
                        "rooot = \"/srv\"\nfrobnicate = 1\nBODY = \"x\"\ntimout = \"1s\"\n");
  config::FieldReader fields(spec, k_http_like_keys);
  const auto checked = fields.check_keys();
  REQUIRE_FALSE(checked);
  CHECK(
    checked.error().message
    == "test.toml:4:10: check \"api\" (http): unknown key \"sttaus\" (did you mean \"status\"?)\n"
       "test.toml:5:9: check \"api\" (http): unknown key \"rooot\" (did you mean \"root\"?)\n"
       "test.toml:6:14: check \"api\" (http): unknown key \"frobnicate\"\n"
       "test.toml:7:8: check \"api\" (http): unknown key \"BODY\" (did you mean \"body\"?)\n"
       "test.toml:8:10: check \"api\" (http): unknown key \"timout\" (did you mean \"timeout\"?)\n"
       "test.toml:1:1: check \"api\" (http): missing key \"url\" (expected a string)");
}

TEST_CASE("config::closest_key: one close key, or none", "[config]")
{
  CHECK(config::closest_key("rooot", k_http_like_keys) == std::optional<std::string_view>("root"));
  CHECK(config::closest_key("statsu", k_http_like_keys)
        == std::optional<std::string_view>("status"));
  CHECK(config::closest_key("URL", k_http_like_keys) == std::optional<std::string_view>("url"));
  CHECK_FALSE(config::closest_key("xyz", k_http_like_keys));
  CHECK_FALSE(config::closest_key("bo", k_http_like_keys)); // short names need a close match
  constexpr std::array twins = {key("abcd1", KeyType::string), key("abcd2", KeyType::string)};
  CHECK_FALSE(config::closest_key("abcd3", twins)); // two equally close: no guess
}

TEST_CASE("config::FieldReader: reading a key the table does not declare is a bug, caught loudly",
          "[config]")
{
  const auto spec = testutil::spec_from("[[check]]\nid = \"c\"\nkind = \"demo\"\n");
  config::FieldReader fields(spec, k_http_like_keys);
  CHECK_THROWS_AS(fields.optional_string("undeclared"), util::Fatal);
}

namespace {

constexpr std::array k_secret_keys = {
  KeySpec{"dsn_env", KeyType::string, false, "", true, ""},
  KeySpec{"dsn_file", KeyType::path, false, "", true, ""},
  KeySpec{"headers_env", KeyType::string_table, false, "", true, ""},
  KeySpec{"headers_file", KeyType::string_table, false, "", true, ""},
  KeySpec{"config_file", KeyType::path, false, "", true, ""},
};

// Return the error of reading the secret keys of the check `body` (after id and kind, so its
// first line is line 4).
std::string
secret_error(const std::string& body)
{
  const auto spec =
    testutil::spec_from(fmt::format("[[check]]\nid = \"c\"\nkind = \"demo\"\n{}\n", body));
  config::FieldReader fields(spec, k_secret_keys);
  std::string errors;
  const auto note = [&](const auto& result) {
    if (!result) {
      errors += result.error().message + "\n";
    }
  };
  note(fields.optional_secret("dsn"));
  note(fields.secret_table("headers_env", util::SecretSource::Kind::env));
  note(fields.secret_table("headers_file", util::SecretSource::Kind::file));
  note(fields.optional_secret_path("config_file"));
  return errors;
}

} // namespace

TEST_CASE("config::FieldReader: a secret written where its variable's name or file's path belongs "
          "is an error that does not show it",
          "[config]")
{
  const std::string dsn = "postgresql://app:hunter2@db/app";
  for (const auto& [body, key] : std::vector<std::pair<std::string, std::string>>{
         {"dsn_env = \"" + dsn + "\"", "dsn_env"},
         {"dsn_env = \"xoxb-hunter2\"", "dsn_env"},
         {"dsn_env = \"9hunter2\"", "dsn_env"},
         {"dsn_env = \"hunter2 \"", "dsn_env"},
         {"dsn_file = \"" + dsn + "\"", "dsn_file"},
         {"dsn_file = \"host=db password=hunter2\"", "dsn_file"},
         {"dsn_file = \"line\\nhunter2\"", "dsn_file"},
         {"headers_env = { Authorization = \"Bearer hunter2\" }", "headers_env"},
         {"headers_file = { Authorization = \"Bearer hunter2\" }", "headers_file"},
         {"headers_file = { X-Key = \"https://u:hunter2@h/\" }", "headers_file"},
         {"config_file = \"" + dsn + "\"", "config_file"},
       }) {
    INFO(body);
    const auto error = secret_error(body);
    CHECK_THAT(error,
               Catch::StartsWith("test.toml:4:") && Catch::Contains("key \"" + key + "\": ")
                 && Catch::Contains("not shown") && !Catch::Contains("hunter2"));
  }
  // What they are meant to hold is fine: names of variables, paths (with '=' or spaces too).
  CHECK(secret_error("dsn_env = \"DATABASE_URL\"").empty());
  CHECK(secret_error("dsn_env = \"_app_db_2\"").empty());
  CHECK(secret_error("dsn_file = \"/etc/app/db=prod.dsn\"").empty());
  CHECK(secret_error("dsn_file = \"secrets/my db.dsn\"").empty());
  CHECK(secret_error("headers_env = { Authorization = \"API_TOKEN\" }").empty());
  CHECK(secret_error("headers_file = { Authorization = \"/etc/app/token\" }").empty());
  CHECK(secret_error("config_file = \"/root/.docker/config.json\"").empty());
}
