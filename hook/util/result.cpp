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

void
throw_exception_from_error(const Error& error, const boost::source_location& /*location*/)
{
  throw Fatal(error.message);
}

} // namespace util
