// What every call of the images kind's probes (the container engine, the registry) carries: the
// HTTP client from the check's probes (unix sockets, TLS, no proxy), the deadline and the stop
// token.
#pragma once

#include <hook/util/duration.hpp>
#include <hook/util/http.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <stop_token>

namespace checks::images {

// --- Interface ---

struct Call
{
  std::shared_ptr<util::HttpClient> http;
  util::Clock::time_point deadline;
  std::stop_token stop;

  // Return the time left before `deadline`, at least 1 ms (libcurl reads 0 as "no timeout").
  std::chrono::milliseconds
  time_left() const
  {
    const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - util::Clock::now());
    return std::max(left, std::chrono::milliseconds(1));
  }
};

} // namespace checks::images
