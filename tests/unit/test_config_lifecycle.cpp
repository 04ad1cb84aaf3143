// The [lifecycle] table: defaults, every key, and every way it can be wrong (with positions).
#include "testutil.hpp"

#include <config/config.hpp>
#include <config/lifecycle.hpp>

#include <fstream>
#include <set>

namespace {

using namespace std::chrono_literals;

constexpr std::string_view k_check =
  "\n[[check]]\nid = \"a\"\nkind = \"tcp\"\naddress = \"127.0.0.1:1\"\n";

util::Result<config::Config>
parse(std::string_view lifecycle)
{
  return config::parse_config(std::string(lifecycle) + std::string(k_check),
                              "/etc/readygate/readygate.toml",
                              "/etc/readygate");
}

std::string
error_of(std::string_view lifecycle)
{
  const auto parsed = parse(lifecycle);
  REQUIRE_FALSE(parsed);
  CHECK(parsed.error().code == util::Errc::config);
  return parsed.error().message;
}

} // namespace

TEST_CASE("config [lifecycle]: defaults, and no table at all", "[lifecycle]")
{
  const auto none = parse("");
  REQUIRE(none);
  CHECK_FALSE(none->lifecycle);

  const auto minimal = parse("[lifecycle]\nhook_name = \"readygate-launch\"\n");
  REQUIRE(minimal);
  REQUIRE(minimal->lifecycle);
  const auto& settings = *minimal->lifecycle;
  CHECK(settings.hook_name == "readygate-launch");
  CHECK_FALSE(settings.group_name);
  CHECK_FALSE(settings.region);
  CHECK(settings.imds_endpoint == "http://169.254.169.254");
  CHECK_FALSE(settings.autoscaling_endpoint);
  CHECK(settings.heartbeat_interval == 30s);
  CHECK(settings.on_error == config::OnError::abandon);
  CHECK(settings.result_file == "/run/readygate/lifecycle.json");
  CHECK(settings.where == "/etc/readygate/readygate.toml:1:1");
}

TEST_CASE("config [lifecycle]: every key is read", "[lifecycle]")
{
  const auto parsed = parse(R"([lifecycle]
hook_name = "team/web-launch_1"
group_name = "web asg"
region = "eu-west-1"
imds_endpoint = "http://[fd00:ec2::254]/"
autoscaling_endpoint = "https://vpce-0abc.autoscaling.eu-west-1.vpce.amazonaws.com/"
heartbeat_interval = "2m"
on_error = "continue"
result_file = "state/lifecycle.json"
)");
  INFO(testutil::error_message(parsed));
  REQUIRE(parsed);
  const auto& settings = *parsed->lifecycle;
  CHECK(settings.hook_name == "team/web-launch_1");
  CHECK(settings.group_name == "web asg");
  CHECK(settings.region == "eu-west-1");
  CHECK(settings.imds_endpoint == "http://[fd00:ec2::254]");
  CHECK(settings.autoscaling_endpoint
        == "https://vpce-0abc.autoscaling.eu-west-1.vpce.amazonaws.com");
  CHECK(settings.heartbeat_interval == 2min);
  CHECK(settings.on_error == config::OnError::proceed);
  CHECK(config::on_error_name(settings.on_error) == "continue");
  CHECK(settings.result_file == "/etc/readygate/state/lifecycle.json");

  // Plain http is for loopback (tests, a local proxy of one's own), never for AWS itself.
  const auto loopback = parse("[lifecycle]\nhook_name = \"h\"\nautoscaling_endpoint = "
                              "\"http://127.0.0.1:8080\"\n");
  REQUIRE(loopback);
  CHECK(loopback->lifecycle->autoscaling_endpoint == "http://127.0.0.1:8080");
}

TEST_CASE("config [lifecycle]: unknown keys are listed with suggestions and positions",
          "[lifecycle]")
{
  const auto message = error_of("[lifecycle]\nhook_name = \"h\"\nheartbeat_intervall = \"1m\"\n"
                                "surely_not = 1\non_eror = \"abandon\"\n");
  CHECK(message
        == "/etc/readygate/readygate.toml:3:23: [lifecycle]: unknown key "
           "\"heartbeat_intervall\" (did you mean \"heartbeat_interval\"?)\n"
           "/etc/readygate/readygate.toml:4:14: [lifecycle]: unknown key \"surely_not\"\n"
           "/etc/readygate/readygate.toml:5:11: [lifecycle]: unknown key \"on_eror\" (did "
           "you mean \"on_error\"?)");
  CHECK(error_of("[lifecycle]\nregion = \"us-east-1\"\n")
        == "/etc/readygate/readygate.toml:1:1: [lifecycle]: missing key \"hook_name\" (expected a "
           "string)");
  CHECK_THAT(error_of("lifecycle = \"yes\"\n"),
             Catch::Contains("key \"lifecycle\": expected a table ([lifecycle])"));
}

TEST_CASE("config [lifecycle]: bad values are config errors naming the key", "[lifecycle]")
{
  const std::vector<std::pair<std::string, std::string>> cases = {
    {"hook_name = \"web launch\"", "2:13: [lifecycle]: key \"hook_name\": expected 1 to 255"},
    {"hook_name = 7", "2:13: [lifecycle]: key \"hook_name\": expected a string, found an integer"},
    {"group_name = \"\"", "key \"group_name\": expected the name of an Auto Scaling group"},
    {"group_name = \"a\\u001b[2Kb\"", "key \"group_name\": expected the name"},
    {"region = \"US-East-1\"", "key \"region\": expected a region name"},
    {"imds_endpoint = \"https://169.254.169.254\"", "expected an http URL, found scheme \"https\""},
    {"imds_endpoint = \"http://169.254.169.254/latest\"", "no user, path or query"},
    {"imds_endpoint = \"169.254.169.254\"", "key \"imds_endpoint\": expected a URL"},
    {"autoscaling_endpoint = \"http://autoscaling.us-east-1.amazonaws.com\"",
     "plain http is accepted only on loopback"},
    {"autoscaling_endpoint = \"https://user:pw@autoscaling.us-east-1.amazonaws.com\"",
     "no user, path or query"},
    {"autoscaling_endpoint = \"https://autoscaling.us-east-1.amazonaws.com/?Action=x\"",
     "no user, path or query"},
    {"autoscaling_endpoint = \"ftp://autoscaling.us-east-1.amazonaws.com\"",
     "expected an https URL, found scheme \"ftp\""},
    {"heartbeat_interval = \"500ms\"", "key \"heartbeat_interval\": expected 1s to 1h"},
    {"heartbeat_interval = \"2h\"", "key \"heartbeat_interval\": expected 1s to 1h"},
    {"heartbeat_interval = \"30\"", "key \"heartbeat_interval\": "},
    {"on_error = \"ignore\"",
     "key \"on_error\": expected \"abandon\" or \"continue\", found \"ignore\""},
    {"on_error = true", "key \"on_error\": expected a string, found a boolean"},
    {"result_file = \"\"", "key \"result_file\": expected the path of a file"},
    {"result_file = \"/run/readygate/\"", "key \"result_file\": expected the path of a file"},
  };
  for (const auto& [line, expected] : cases) {
    INFO(line);
    // The bad key first, on line 2; hook_name (required) after it unless it is the bad one.
    const auto message = error_of("[lifecycle]\n" + line + "\n"
                                  + (line.starts_with("hook_name") ? "" : "hook_name = \"h\"\n"));
    CHECK_THAT(message, Catch::StartsWith("/etc/readygate/readygate.toml:2:"));
    CHECK_THAT(message, Catch::Contains(expected));
  }
}

TEST_CASE("config [lifecycle]: the key table is complete and documented", "[lifecycle]")
{
  std::set<std::string_view> names;
  for (const auto& key : config::lifecycle_keys()) {
    INFO(key.name);
    CHECK(names.insert(key.name).second);
    CHECK_FALSE(key.doc.empty());
    CHECK_FALSE(key.secret);
  }
  CHECK(names
        == std::set<std::string_view>{"hook_name",
                                      "group_name",
                                      "region",
                                      "imds_endpoint",
                                      "autoscaling_endpoint",
                                      "heartbeat_interval",
                                      "on_error",
                                      "result_file"});
  const auto help = config::describe_keys(config::lifecycle_keys());
  CHECK_THAT(help, Catch::Contains("hook_name") && Catch::Contains("string (required)"));
  CHECK_THAT(help, Catch::Contains("on_error") && Catch::Contains("default \"abandon\""));
}

namespace {

// Return the keys the first table of the README section headed `heading` lists in its first
// column, each written as `key`.
std::set<std::string>
readme_table_keys(std::string_view heading)
{
  std::ifstream in(RG_README_PATH);
  REQUIRE(in);
  std::set<std::string> keys;
  std::string line;
  bool in_section = false;
  bool in_table = false;
  while (std::getline(in, line)) {
    if (line.starts_with("#")) {
      if (in_section) {
        break;
      }
      in_section = line.starts_with(heading);
      continue;
    }
    if (!in_section) {
      continue;
    }
    if (line.starts_with("| `")) {
      in_table = true;
      const auto cell = line.substr(2, line.find(" |", 2) - 2);
      for (auto open = cell.find('`'); open != std::string::npos;) {
        const auto close = cell.find('`', open + 1);
        keys.emplace(cell.substr(open + 1, close - open - 1));
        open = cell.find('`', close + 1);
      }
    } else if (in_table) {
      break;
    }
  }
  return keys;
}

} // namespace

TEST_CASE("README: the [lifecycle] section lists exactly the keys of its key table", "[lifecycle]")
{
  std::set<std::string> declared;
  for (const auto& key : config::lifecycle_keys()) {
    declared.emplace(key.name);
  }
  CHECK(readme_table_keys("### `[lifecycle]`") == declared);
}
