#include "check.hpp"

namespace hook {

std::string_view
status_name(Status status)
{
  switch (status) {
  case Status::pass:
    return "pass";
  case Status::fail:
    return "fail";
  case Status::error:
    return "error";
  case Status::skip:
    return "skip";
  }
  return "error";
}

Status
worse_status(Status a, Status b)
{
  const auto rank = [](Status s) {
    switch (s) {
    case Status::error:
      return 3;
    case Status::fail:
      return 2;
    case Status::pass:
    case Status::skip:
      return 1;
    }
    return 3;
  };
  if (rank(a) == rank(b)) {
    return a == Status::skip ? b : a;
  }
  return rank(a) > rank(b) ? a : b;
}

CheckResult
CheckResult::pass(std::string message, std::vector<Finding> findings)
{
  return CheckResult{Status::pass, std::move(message), std::move(findings), 0};
}

CheckResult
CheckResult::fail(std::string message, std::vector<Finding> findings)
{
  return CheckResult{Status::fail, std::move(message), std::move(findings), 0};
}

CheckResult
CheckResult::error(std::string message, std::vector<Finding> findings)
{
  return CheckResult{Status::error, std::move(message), std::move(findings), 0};
}

CheckResult
CheckResult::from_error(const util::Error& error)
{
  return CheckResult{Status::error, error.message, {}, 0};
}

CheckResult
CheckResult::skip(std::string reason)
{
  return CheckResult{Status::skip, std::move(reason), {}, 0};
}

void
redact(CheckResult& result, std::span<const util::Secret> secrets)
{
  redact(result, util::Redactor(secrets));
}

void
redact(CheckResult& result, const util::Redactor& redactor)
{
  if (redactor.empty()) {
    return;
  }
  result.message = redactor.redact(result.message);
  for (auto& finding : result.findings) {
    finding.subject = redactor.redact(finding.subject);
    finding.expected = redactor.redact(finding.expected);
    finding.found = redactor.redact(finding.found);
  }
}

std::chrono::milliseconds
CheckContext::time_left() const
{
  return util::time_left(deadline);
}

bool
CheckContext::should_stop() const
{
  return stop.stop_requested() || util::Clock::now() >= deadline;
}

} // namespace hook
