// What the runner sees of a check: its status vocabulary, its result and the context it runs in.
#pragma once

#include <hook/probes.hpp>
#include <hook/util/duration.hpp>
#include <hook/util/result.hpp>
#include <hook/util/secret.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

namespace hook {

// --- Interface ---

enum class Status : std::uint8_t {
  pass,  // observed, and the host is as the release expects
  fail,  // observed, and the host is wrong
  error, // could not observe (timeout, permission denied, server down, parse error)
  skip,  // not run (by filter, or a dependency did not pass)
};

// Return "pass", "fail", "error" or "skip".
std::string_view status_name(Status status);

// Return the status that decides a gate over `a` and `b`: error outranks fail outranks pass;
// skip counts as pass.
Status worse_status(Status a, Status b);

// One thing that differs from (or could not be compared with) what the release expects.
struct Finding
{
  std::string subject;  // what was looked at: a path, "status", "stdout", "exit code"
  std::string expected; // what the release expects, "" when not applicable
  std::string found;    // what the host has, "" when not applicable
};

struct CheckResult
{
  Status status = Status::error;
  std::string message;              // one line for humans
  std::vector<Finding> findings;    // the first few, in a stable order
  std::size_t findings_omitted = 0; // how many more there were

  static CheckResult pass(std::string message, std::vector<Finding> findings = {});
  static CheckResult fail(std::string message, std::vector<Finding> findings = {});
  static CheckResult error(std::string message, std::vector<Finding> findings = {});
  static CheckResult from_error(const util::Error& error);
  static CheckResult skip(std::string reason);
};

// Replace every occurrence of each of `secrets` in `result` (its message and findings) with
// "<redacted>", in every form util::Redactor finds, escaped ones included: a server or a command
// may send back what it was sent (an echoed header, a DSN in an error message). The last net: text
// from outside is redacted raw before it is escaped or cut (util::Redactor::excerpt).
void redact(CheckResult& result, std::span<const util::Secret> secrets);
void redact(CheckResult& result, const util::Redactor& redactor);

struct CheckContext
{
  util::Clock::time_point deadline; // this attempt's: the check's timeout, capped by the run's
  std::stop_token stop;             // requested when the deadline passes or on SIGINT/SIGTERM
  Probes probes;                    // the only way a check reaches the host

  // Return the time left before `deadline`, never negative.
  std::chrono::milliseconds time_left() const;
  // Return true when the check should give up now (stop requested or deadline passed).
  bool should_stop() const;
};

class Check
{
public:
  virtual ~Check() = default;

  // Probe the host and judge it. Honour `ctx.deadline` and `ctx.stop`. A check's outcome is
  // data: do not throw (the runner turns anything that escapes into Status::error).
  virtual CheckResult run(const CheckContext& ctx) const = 0;
};

} // namespace hook
