// Golden-file tests of every report format, plus checks that the machine-readable formats parse
// back. RG_UPDATE_GOLDEN=1 rewrites tests/unit/golden/<scenario>.<format> instead of comparing;
// review the diff before committing it.
#include "testutil.hpp"

#include <hook/outcome.hpp>
#include <hook/report/formats.hpp>
#include <hook/report/reporter.hpp>
#include <hook/util/subprocess.hpp>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <regex>
#include <set>
#include <sstream>

using namespace std::chrono_literals;
using hook::CheckResult;
using hook::Finding;
using hook::ReportedResult;
using hook::RunSummary;
using hook::Status;
using hook::report::Colour;
using hook::report::ReportOptions;

namespace {

std::chrono::system_clock::time_point
fixed_start()
{
  using namespace std::chrono;
  return sys_days{2024y / May / 1} + 12h + 34min + 56s + 789ms;
}

ReportedResult
reported(std::string id,
         std::string kind,
         CheckResult result,
         std::chrono::milliseconds duration,
         unsigned attempts = 1)
{
  const bool failed = result.status == Status::fail; // as the runner marks it
  return ReportedResult{
    std::move(id), std::move(kind), std::move(result), duration, attempts, failed};
}

RunSummary
all_pass()
{
  RunSummary summary;
  summary.results.push_back(reported(
    "app-files", "files", CheckResult::pass("tree matches the release (1234 files)"), 120ms));
  summary.results.push_back(
    reported("app-http",
             "http",
             CheckResult::pass("GET http://127.0.0.1:8080/version: 200, version 1.4.2"),
             2'345ms,
             2));
  summary.results.push_back(reported("db-port", "tcp", CheckResult::pass(""), 3ms));
  summary.verdict = Status::pass;
  summary.duration = 2'470ms;
  summary.started = fixed_start();
  return summary;
}

RunSummary
mixed()
{
  RunSummary summary;
  summary.results.push_back(
    reported("app-files", "files", CheckResult::pass("tree matches the release"), 950ms));
  auto nginx = CheckResult::fail(
    "3 of 5 references are wrong",
    {Finding{"/etc/nginx/sites-enabled/default", "absent", "present"},
     Finding{"/etc/ssl/app.pem", "valid for 14 days or more", "expires in 3 days"},
     Finding{"upstream 127.0.0.1:8080", "", "not listening"}});
  nginx.findings_omitted = 2;
  summary.results.push_back(reported("nginx", "webserver", std::move(nginx), 61'234ms, 3));
  summary.results.push_back(reported(
    "schema",
    "migrations",
    CheckResult::error("could not connect to postgres at 127.0.0.1:5432",
                       {Finding{"connection", "open within 5s", ""}, Finding{"", "", "refused"}}),
    5'000ms));
  summary.results.push_back(
    reported("api", "http", CheckResult::skip("dependency \"schema\" did not pass"), 0ms, 0));
  summary.verdict = Status::error;
  summary.seen_failing = true;
  summary.duration = 67'310ms;
  summary.started = fixed_start();
  return summary;
}

RunSummary
deadline()
{
  RunSummary summary;
  summary.results.push_back(reported(
    "app-http",
    "http",
    CheckResult::fail("GET http://127.0.0.1:8080/version: 503", {Finding{"status", "200", "503"}}),
    40ms,
    120));
  summary.results.push_back(
    reported("images",
             "images",
             CheckResult::error("did not finish before the run's deadline (10m)"),
             32'000ms));
  summary.verdict = Status::error;
  summary.seen_failing = true;
  summary.duration = 600'004ms;
  summary.started = fixed_start();
  summary.deadline_reached = true;
  summary.interrupted = true;
  return summary;
}

RunSummary
empty()
{
  RunSummary summary;
  summary.verdict = Status::pass;
  summary.duration = 1ms;
  summary.started = fixed_start();
  return summary;
}

// Text no report may trust: markup, quotes, '#', backslashes, newlines, tabs, non-ASCII, C0 and
// C1 controls, an ANSI escape and ill-formed UTF-8.
RunSummary
awkward()
{
  RunSummary summary;
  auto config = CheckResult::fail(
    "value of \"max_conn\" in <app.ini> & 'db.ini' is wrong\nsee line 2 # not a directive",
    {Finding{"db.max_conn\tcafé", "\"100\" <= x & x < 200", "  50\n 60 \\ 70"},
     Finding{"控制\x01\x1b[31mred", "\xC2\x85next-line", std::string("nul\0byte", 8)},
     Finding{"bad \xFF\xC3( utf8", "\xEF\xBF\xBF", "\xE2\x80\xA8separator"}});
  config.findings_omitted = 1;
  summary.results.push_back(reported("weird\"id<&>#1\\", "config", std::move(config), 7ms, 2));
  summary.results.push_back(
    reported("skipped#2", "command", CheckResult::skip("only \"web\" # tagged\nchecks"), 0ms, 0));
  summary.results.push_back(
    reported("naïve-✓",
             "command",
             CheckResult::error("exit code 127: sh: 1: \x7f\xF0\x9F\x9A\x80: not found"),
             12ms));
  summary.verdict = Status::error;
  summary.seen_failing = true;
  summary.duration = 19ms;
  summary.started = fixed_start();
  return summary;
}

const std::map<std::string, RunSummary (*)()> k_scenarios = {
  {"all_pass", &all_pass},
  {"awkward", &awkward},
  {"deadline", &deadline},
  {"empty", &empty},
  {"mixed", &mixed},
};

ReportOptions
options_for(const std::string& scenario)
{
  ReportOptions options;
  if (scenario == "mixed") {
    options.hostname = "web-1.example.com";
  } else if (scenario == "awkward") {
    options.hostname = "host \"<&>\"\n#";
  }
  return options;
}

std::string
render(std::string_view format, const RunSummary& summary, const ReportOptions& options)
{
  const auto* reporter = hook::report::find_report_format(format);
  REQUIRE(reporter != nullptr);
  std::ostringstream out;
  reporter->write(out, summary, options);
  return out.str();
}

bool
updating()
{
  const char* flag = std::getenv("RG_UPDATE_GOLDEN");
  return flag != nullptr && std::string_view(flag) == "1";
}

void
compare_with_golden(const std::string& name, const std::string& actual)
{
  const auto path = std::filesystem::path(RG_GOLDEN_DIR) / name;
  INFO("golden file " << path.string());
  if (updating()) {
    testutil::write_file(path, actual);
    SUCCEED("rewrote " << path.string());
    return;
  }
  std::ifstream in(path, std::ios::binary);
  INFO("missing golden file: run the unit tests with RG_UPDATE_GOLDEN=1 to create it");
  REQUIRE(in.good());
  const std::string expected{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  CHECK(actual == expected);
}

// Run python3 with `script` and the file `argument`; return its stdout, failing on non-zero exit.
std::string
python(const std::string& script, const std::filesystem::path& argument)
{
  util::SystemProcessRunner runner;
  util::ProcessRequest request;
  request.argv = {"python3", "-c", script, argument.string()};
  request.timeout = 30s;
  const auto outcome = runner.run(request);
  INFO(testutil::error_message(outcome));
  REQUIRE(outcome);
  INFO(outcome->stderr_text);
  REQUIRE(outcome->exit_code == 0);
  return outcome->stdout_text;
}

} // namespace

TEST_CASE("hook::report: every format matches its golden file in every scenario", "[report]")
{
  for (const auto& [scenario, make] : k_scenarios) {
    const auto summary = make();
    for (const auto& format : hook::report::report_formats()) {
      const auto name = scenario + "." + std::string(format.name);
      SECTION(name)
      {
        compare_with_golden(name, render(format.name, summary, options_for(scenario)));
      }
    }
  }
}

TEST_CASE("hook::report::write_human: colours the markers and the verdict when asked", "[report]")
{
  auto options = options_for("mixed");
  options.colour = Colour::yes;
  const auto coloured = render("human", mixed(), options);
  compare_with_golden("mixed_colour.human", coloured);
  CHECK(coloured.find("\x1b[32mPASS\x1b[0m") != std::string::npos);
  CHECK(coloured.find("\x1b[31mFAIL\x1b[0m") != std::string::npos);
  CHECK(coloured.find("\x1b[33mERROR\x1b[0m") != std::string::npos);
  CHECK(coloured.find("\x1b[90mSKIP\x1b[0m") != std::string::npos);

  const auto plain = render("human", mixed(), options_for("mixed"));
  CHECK(plain.find('\x1b') == std::string::npos);
  // Colour adds escapes and nothing else.
  CHECK(std::regex_replace(coloured, std::regex("\x1b\\[[0-9;]*m"), "") == plain);
}

TEST_CASE("hook::report::write_human: prints findings only under failures, and the tally",
          "[report]")
{
  auto summary = mixed();
  summary.results[0].result.findings.push_back(Finding{"unseen-subject", "x", "y"});
  const auto text = render("human", summary, {});
  CHECK(text.find("unseen-subject") == std::string::npos);
  CHECK(text.find(
          "       /etc/ssl/app.pem: expected valid for 14 days or more, found expires in 3 days\n")
        != std::string::npos);
  CHECK(text.find("       upstream 127.0.0.1:8080: found not listening\n") != std::string::npos);
  CHECK(text.find("       connection: expected open within 5s\n") != std::string::npos);
  CHECK(text.find("       found refused\n") != std::string::npos);
  CHECK(text.find("       ... and 2 more\n") != std::string::npos);
  CHECK(text.find("(3 attempts)") != std::string::npos);
  CHECK(text.find("readygate: ERROR on web-1.example.com")
        == std::string::npos); // no hostname given
  CHECK(text.find("readygate: ERROR — 4 checks: 1 pass, 1 fail, 1 error, 1 skip (1m07s)\n")
        != std::string::npos);
}

TEST_CASE("hook::report::write_human: keeps control characters off the terminal", "[report]")
{
  const auto text = render("human", awkward(), {});
  CHECK(text.find('\x1b') == std::string::npos);
  CHECK(text.find('\x01') == std::string::npos);
  CHECK(text.find('\0') == std::string::npos);
  CHECK(text.find("\\x1b[31mred") != std::string::npos);
  CHECK(text.find("wrong\\nsee line 2") != std::string::npos);
  // One line per check and per finding: the newlines in the text did not break the layout.
  CHECK(std::count(text.begin(), text.end(), '\n') == 3 + 3 + 1 + 2);
}

TEST_CASE("hook::report::write_json: parses back with the documented fields", "[report]")
{
  for (const auto& [scenario, make] : k_scenarios) {
    INFO(scenario);
    const auto summary = make();
    const auto text = render("json", summary, options_for(scenario));
    REQUIRE(text.back() == '\n');
    CHECK(std::count(text.begin(), text.end(), '\n') == 1);
    boost::json::error_code ec;
    const auto parsed = boost::json::parse(text, ec);
    INFO(ec.message());
    REQUIRE(!ec);
    const auto& report = parsed.as_object();
    CHECK(report.at("schema").as_string() == "readygate.report/1");
    CHECK(report.at("verdict").as_string() == hook::status_name(summary.verdict));
    CHECK(report.at("exit_code").as_int64() == hook::exit_code_for(summary.verdict));
    CHECK(report.at("started").as_string() == "2024-05-01T12:34:56.789Z");
    CHECK(report.at("duration_ms").as_int64() == summary.duration.count());
    CHECK(report.at("deadline_reached").as_bool() == summary.deadline_reached);
    CHECK(report.at("interrupted").as_bool() == summary.interrupted);
    CHECK(report.at("seen_failing").as_bool() == summary.seen_failing);
    CHECK(report.contains("hostname") == !options_for(scenario).hostname.empty());

    const auto counts = hook::report::count_statuses(summary);
    const auto& tally = report.at("counts").as_object();
    CHECK(tally.size() == 4);
    for (const auto status : hook::report::k_statuses) {
      CHECK(tally.at(hook::status_name(status)).to_number<std::size_t>() == counts.of(status));
    }

    const auto& checks = report.at("checks").as_array();
    REQUIRE(checks.size() == summary.results.size());
    for (std::size_t i = 0; i < checks.size(); ++i) {
      const auto& check = checks[i].as_object();
      const auto& expected = summary.results[i];
      CHECK(check.size() == 9);
      CHECK(check.at("seen_failing").as_bool() == expected.seen_failing);
      CHECK(check.at("id").is_string());
      CHECK(check.at("kind").is_string());
      CHECK(check.at("status").as_string() == hook::status_name(expected.result.status));
      CHECK(check.at("message").is_string());
      CHECK(check.at("duration_ms").as_int64() == expected.duration.count());
      CHECK(check.at("attempts").to_number<unsigned>() == expected.attempts);
      CHECK(check.at("findings_omitted").to_number<std::size_t>()
            == expected.result.findings_omitted);
      const auto& findings = check.at("findings").as_array();
      REQUIRE(findings.size() == expected.result.findings.size());
      for (const auto& finding : findings) {
        CHECK(finding.as_object().size() == 3);
        CHECK(finding.at("subject").is_string());
        CHECK(finding.at("expected").is_string());
        CHECK(finding.at("found").is_string());
      }
    }
  }
}

TEST_CASE("hook::report::write_json: a check seen failing says so, also when it is an error",
          "[report]")
{
  auto summary = deadline();
  summary.results[1].result =
    CheckResult::error("the run deadline (10m) passed during attempt 3; attempt 2: fail: 503");
  summary.results[1].seen_failing = true;
  const auto parsed = boost::json::parse(render("json", summary, {}));
  CHECK(parsed.at("verdict") == "error");
  CHECK(parsed.at("seen_failing") == true);
  const auto& checks = parsed.at("checks").as_array();
  CHECK(checks[1].at("status") == "error");
  CHECK(checks[1].at("seen_failing") == true);

  const auto clean = boost::json::parse(render("json", all_pass(), {}));
  CHECK(clean.at("seen_failing") == false);
  CHECK(clean.at("checks").as_array()[0].at("seen_failing") == false);
}

TEST_CASE("hook::report::write_json: keeps text exactly, replacing only ill-formed UTF-8",
          "[report]")
{
  const auto summary = awkward();
  const auto parsed = boost::json::parse(render("json", summary, options_for("awkward")));
  const auto& checks = parsed.at("checks").as_array();
  CHECK(checks[0].at("id").as_string() == summary.results[0].id);
  CHECK(checks[0].at("message").as_string() == summary.results[0].result.message);
  const auto& second = checks[0].at("findings").as_array()[1];
  CHECK(second.at("subject").as_string() == summary.results[0].result.findings[1].subject);
  CHECK(second.at("found").as_string() == std::string_view("nul\0byte", 8));
  const auto& third = checks[0].at("findings").as_array()[2];
  CHECK(third.at("subject").as_string() == "bad \xEF\xBF\xBD\xEF\xBF\xBD( utf8");
  CHECK(parsed.at("hostname").as_string() == "host \"<&>\"\n#");
}

TEST_CASE("hook::report::write_junit: well-formed XML with the right counts and text", "[report]")
{
  testutil::TempDir dir;
  // Parse with a real XML parser and print what CI would see of each testcase.
  const std::string script = R"(
import sys, xml.etree.ElementTree as ET
suite = ET.parse(sys.argv[1]).getroot()
assert suite.tag == 'testsuite', suite.tag
print(suite.get('name'), suite.get('tests'), suite.get('failures'), suite.get('errors'),
      suite.get('skipped'), suite.get('time'), suite.get('timestamp'), repr(suite.get('hostname')))
for case in suite.iter('testcase'):
    outcome = [(c.tag, c.get('message'), c.text) for c in case if c.tag != 'system-out']
    print(repr((case.get('classname'), case.get('name'), case.get('time'), outcome)))
)";
  for (const auto& [scenario, make] : k_scenarios) {
    INFO(scenario);
    const auto summary = make();
    const auto path = dir.path() / (scenario + ".xml");
    testutil::write_file(path, render("junit", summary, options_for(scenario)));
    const auto printed = python(script, path);
    const auto counts = hook::report::count_statuses(summary);
    CHECK(printed.rfind(fmt::format("readygate {} {} {} {} {} 2024-05-01T12:34:56 ",
                                    summary.results.size(),
                                    counts.fail,
                                    counts.error,
                                    counts.skip,
                                    hook::report::format_seconds(summary.duration)),
                        0)
          == 0);
    if (scenario == "mixed") {
      CHECK(printed.find("('readygate.webserver', 'nginx', '61.234', [('failure', '3 of 5 "
                         "references are wrong', '3 of 5 references are wrong\\n/etc/nginx/"
                         "sites-enabled/default: expected absent, found present\\n")
            != std::string::npos);
      CHECK(printed.find("... and 2 more\\nattempts: 3')])") != std::string::npos);
      CHECK(printed.find("('readygate.http', 'api', '0.000', [('skipped', 'dependency \"schema\" "
                         "did not pass', None)])")
            != std::string::npos);
    }
    if (scenario == "awkward") {
      // Attribute newlines survive (as character references); forbidden characters became U+FFFD.
      CHECK(printed.find("'host \"<&>\"\\n#'") != std::string::npos);
      CHECK(printed.find("'weird\"id<&>#1\\\\'") != std::string::npos);
      CHECK(printed.find("控制\ufffd\ufffd[31mred") != std::string::npos);
      CHECK(printed.find("nul\ufffdbyte") != std::string::npos);
    }
  }
}

TEST_CASE("hook::report::write_tap: a plan, a test point per check, YAML under failures",
          "[report]")
{
  const auto text = render("tap", mixed(), {});
  CHECK(
    text.rfind(
      "TAP version 14\n1..4\nok 1 - app-files (files)\nnot ok 2 - nginx (webserver)\n  ---\n", 0)
    == 0);
  CHECK(text.find("\nnot ok 3 - schema (migrations)\n  ---\n") != std::string::npos);
  CHECK(text.find("\nok 4 - api (http) # SKIP dependency \"schema\" did not pass\n")
        != std::string::npos);

  const auto odd = render("tap", awkward(), {});
  CHECK(odd.find("not ok 1 - weird\"id<&>\\#1\\\\ (config)\n") != std::string::npos);
  CHECK(odd.find("ok 2 - skipped\\#2 (command) # SKIP only \"web\" # tagged\\nchecks\n")
        != std::string::npos);
  // No line of the TAP stream may be broken by the text inside it.
  std::istringstream lines(odd);
  std::string line;
  const std::regex valid(R"(TAP version 14|1\.\.\d+|(not )?ok \d+ - .*|  .*|# .*)");
  while (std::getline(lines, line)) {
    INFO(line);
    CHECK(std::regex_match(line, valid));
  }
}

TEST_CASE("hook::report::write_tap: the YAML blocks parse back to the findings", "[report]")
{
  // python3-yaml is an independent YAML parser; scripts/install-deps --test installs it.
  util::SystemProcessRunner runner;
  util::ProcessRequest probe;
  probe.argv = {"python3", "-c", "import yaml"};
  const auto has_yaml = runner.run(probe);
  INFO("python3-yaml is needed to parse the TAP YAML blocks back");
  REQUIRE(has_yaml);
  REQUIRE(has_yaml->exit_code == 0);
  testutil::TempDir dir;
  const auto path = dir.path() / "awkward.tap";
  const auto summary = awkward();
  testutil::write_file(path, render("tap", summary, {}));
  const std::string script = R"(
import sys, json, yaml
blocks, block = [], None
for line in open(sys.argv[1], encoding='utf-8').read().split('\n'):
    if line == '  ---': block = []
    elif line == '  ...': blocks.append(yaml.safe_load('\n'.join(block))); block = None
    elif block is not None: block.append(line[2:])
print(json.dumps(blocks))
)";
  const auto parsed = boost::json::parse(python(script, path)).as_array();
  REQUIRE(parsed.size() == 2);
  const auto& first = parsed[0].as_object();
  const auto& original = summary.results[0].result;
  CHECK(first.at("message").as_string() == original.message);
  CHECK(first.at("severity").as_string() == "fail");
  CHECK(first.at("attempts").as_int64() == 2);
  CHECK(first.at("findings_omitted").as_int64() == 1);
  const auto& findings = first.at("findings").as_array();
  REQUIRE(findings.size() == 3);
  CHECK(findings[0].at("subject").as_string() == original.findings[0].subject);
  CHECK(findings[0].at("expected").as_string() == original.findings[0].expected);
  CHECK(findings[0].at("found").as_string() == original.findings[0].found);
  CHECK(findings[1].at("subject").as_string() == original.findings[1].subject);
  CHECK(findings[1].at("expected").as_string() == original.findings[1].expected);
  CHECK(findings[1].at("found").as_string() == original.findings[1].found);
  CHECK(findings[2].at("found").as_string() == original.findings[2].found);
  CHECK(parsed[1].at("message").as_string() == summary.results[2].result.message);
}

TEST_CASE("hook::report::write_prometheus: gauges with HELP and TYPE, escaped labels, one-hot",
          "[report]")
{
  for (const auto& [scenario, make] : k_scenarios) {
    INFO(scenario);
    const auto summary = make();
    const auto text = render("prometheus", summary, {});
    std::istringstream lines(text);
    std::string line;
    std::set<std::string> typed;
    std::set<std::string> series;
    const std::regex sample(
      R"re(([a-z_]+)(\{([a-z_]+="([^"\\\n]|\\[\\"n])*",?)*\})? -?[0-9]+(\.[0-9]+)?)re");
    const std::regex type(R"(# TYPE ([a-z_]+) gauge)");
    std::map<std::string, double> status_sum; // per check, over the one-hot status samples
    while (std::getline(lines, line)) {
      INFO(line);
      std::smatch match;
      if (line.rfind("# HELP ", 0) == 0) {
        continue;
      }
      if (std::regex_match(line, match, type)) {
        CHECK(typed.insert(match[1]).second); // each family once
        continue;
      }
      REQUIRE(std::regex_match(line, match, sample));
      CHECK(typed.count(match[1]) == 1); // its TYPE came first
      const auto space = line.rfind(' ');
      CHECK(series.insert(line.substr(0, space)).second); // no duplicate series
      if (match[1] == "readygate_check_status") {
        status_sum[line.substr(0, line.find(",status="))] += std::stod(line.substr(space + 1));
      }
    }
    CHECK(status_sum.size() == summary.results.size());
    for (const auto& [check, sum] : status_sum) {
      CHECK(sum == 1.0);
    }
    CHECK(typed.size() == 10);
  }

  const auto odd = render("prometheus", awkward(), {});
  CHECK(odd.find(R"(readygate_check_attempts{id="weird\"id<&>#1\\",kind="config"} 2)")
        != std::string::npos);
  const auto run = render("prometheus", deadline(), {});
  CHECK(run.find("\nreadygate_run_success 0\n") != std::string::npos);
  CHECK(run.find("\nreadygate_verdict{verdict=\"error\"} 1\n") != std::string::npos);
  CHECK(run.find("\nreadygate_verdict{verdict=\"fail\"} 0\n") != std::string::npos);
  CHECK(run.find("\nreadygate_run_deadline_reached 1\n") != std::string::npos);
  CHECK(run.find("\nreadygate_run_timestamp_seconds 1714566896.789\n") != std::string::npos);
  CHECK(run.find("\nreadygate_check_duration_seconds{id=\"images\",kind=\"images\"} 32.000\n")
        != std::string::npos);
  const auto good = render("prometheus", all_pass(), {});
  CHECK(good.find("\nreadygate_run_success 1\n") != std::string::npos);
  CHECK(good.find("\nreadygate_checks{status=\"pass\"} 3\n") != std::string::npos);
}
