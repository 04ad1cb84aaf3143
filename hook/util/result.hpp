// Errors as values: every fallible function in readygate returns Result<T>.
#pragma once

#include <boost/system/result.hpp>

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace util {

// --- Interface ---

// The category a caller branches on; `Error::message` is for humans.
enum class Errc {
  config,     // the configuration (or a file it names) is malformed
  usage,      // the command line is malformed
  io,         // a file could not be read or written
  permission, // access was denied
  process,    // a command could not be started
  network,    // a connection could not be made or broke
  tls,        // a TLS peer answered, but its certificate did not verify (the wrong identity)
  timeout,    // a deadline passed before an answer came
  protocol,   // an answer came but could not be understood
  cancelled,  // the run was interrupted (SIGINT/SIGTERM)
  internal,   // a bug in readygate
};

struct Error
{
  Errc code = Errc::internal;
  std::string message; // lowercase, no trailing period, subject first; no secrets
};

template <typename T>
using Result = boost::system::result<T, Error>;

// Thrown for start-up fatals and bugs only; caught once in main.
class Fatal : public std::runtime_error
{
public:
  using std::runtime_error::runtime_error;
};

// Return an Error with `code` and `message`.
Error make_error(Errc code, std::string message);

// Return `error` with "`context`: " put in front of its message.
Error with_context(Error error, std::string_view context);

// Called by Result::value() on an error (found by ADL); throws Fatal.
[[noreturn]] void throw_exception_from_error(const Error& error,
                                             const boost::source_location& location);

} // namespace util

// Return the error of `expression_` to the caller if there is one.
// NOLINTBEGIN
#define RG_TRY(expression_)                                                                        \
  do {                                                                                             \
    auto&& rg_try_result_ = (expression_);                                                         \
    if (!rg_try_result_) {                                                                         \
      return std::move(rg_try_result_).error();                                                    \
    }                                                                                              \
  } while (false)

#define RG_CONCAT_INNER(a_, b_) a_##b_
#define RG_CONCAT(a_, b_) RG_CONCAT_INNER(a_, b_)

// Declare `var_` as the value of `expression_`, or return its error.
#define RG_TRY_ASSIGN(var_, expression_)                                                           \
  auto&& RG_CONCAT(rg_try_assign_, __LINE__) = (expression_);                                      \
  if (!RG_CONCAT(rg_try_assign_, __LINE__)) {                                                      \
    return std::move(RG_CONCAT(rg_try_assign_, __LINE__)).error();                                 \
  }                                                                                                \
  var_ = std::move(*RG_CONCAT(rg_try_assign_, __LINE__))
// NOLINTEND
