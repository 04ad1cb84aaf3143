#include "outcome.hpp"

namespace hook {

int
exit_code_for(Status verdict)
{
  switch (verdict) {
  case Status::pass:
    return k_exit_pass;
  case Status::fail:
    return k_exit_fail;
  case Status::error:
  case Status::skip: // a verdict is never skip (verdict_of maps it to pass); never admit on it
    return k_exit_error;
  }
  return k_exit_error;
}

int
http_status_for(Status verdict)
{
  return verdict == Status::pass ? 200 : 503;
}

std::string_view
lifecycle_result_for(Status verdict)
{
  return verdict == Status::pass ? "CONTINUE" : "ABANDON";
}

} // namespace hook
