#include "testutil.hpp"

#include <config/fields.hpp>

using namespace std::chrono_literals;

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
  config::FieldReader fields(spec);
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
  CHECK(fields.finish());
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
  config::FieldReader fields(spec);
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

TEST_CASE("config::FieldReader::finish: an unknown key is an error with its position", "[config]")
{
  const auto spec =
    testutil::spec_from("[[check]]\nid = \"api\"\nkind = \"http\"\nurl = \"u\"\nsttaus = 200\n");
  config::FieldReader fields(spec);
  REQUIRE(fields.required_string("url"));
  const auto finished = fields.finish();
  REQUIRE_FALSE(finished);
  CHECK_THAT(
    finished.error().message,
    Catch::StartsWith(
      "test.toml:5:10: check \"api\" (http): unknown key \"sttaus\" (expected one of: url"));
}
