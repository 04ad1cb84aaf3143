#include "result.hpp"

namespace util {

Error
make_error(Errc code, std::string message)
{
  return Error{code, std::move(message)};
}

Error
with_context(Error error, std::string_view context)
{
  error.message = std::string(context) + ": " + error.message;
  return error;
}

std::string_view
errc_name(Errc code)
{
  switch (code) {
  case Errc::config:
    return "config";
  case Errc::usage:
    return "usage";
  case Errc::io:
    return "io";
  case Errc::permission:
    return "permission";
  case Errc::process:
    return "process";
  case Errc::network:
    return "network";
  case Errc::tls:
    return "tls";
  case Errc::timeout:
    return "timeout";
  case Errc::protocol:
    return "protocol";
  case Errc::cancelled:
    return "cancelled";
  case Errc::internal:
    return "internal";
  }
  return "internal";
}

void
throw_exception_from_error(const Error& error, const boost::source_location& /*location*/)
{
  throw Fatal(error.message);
}

} // namespace util
