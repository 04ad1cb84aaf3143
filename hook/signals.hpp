// The process's signals, turned into events a command can act on. A signal handler may do little
// more than write(2), so the handlers write the signal's number to a pipe and one thread reads it:
// SIGINT and SIGTERM request a stop (a second one ends readygate at once), SIGHUP is handed to
// whoever subscribed (serve reloads its configuration). Handlers, unlike a blocked signal mask,
// are reset by exec, so the commands readygate runs still get default signal handling.
#pragma once

#include <functional>
#include <memory>
#include <stop_token>

namespace hook {

// --- Interface ---

class HangupSubscription;

// Install the handlers, once per process, from main: SIGINT and SIGTERM request `stop`; a second
// one ends the process at once with 128 + its number. With `hangup`, SIGHUP is caught and handed
// to the subscribers of on_hangup (ignored while there are none); without it SIGHUP keeps its
// default action. Returns false when the pipe cannot be made (the default actions then apply).
bool watch_signals(std::stop_source stop, bool hangup);

// Call `callback` on the signal thread for every SIGHUP while the returned subscription lives.
// The callback must return quickly (set a flag, notify a condition variable).
[[nodiscard]] HangupSubscription on_hangup(std::function<void()> callback);

class HangupSubscription
{
public:
  HangupSubscription() = default;
  explicit HangupSubscription(std::shared_ptr<std::function<void()>> callback);
  ~HangupSubscription();
  HangupSubscription(HangupSubscription&&) noexcept = default;
  HangupSubscription& operator=(HangupSubscription&&) noexcept = default;
  HangupSubscription(const HangupSubscription&) = delete;
  HangupSubscription& operator=(const HangupSubscription&) = delete;

private:
  std::shared_ptr<std::function<void()>> m_callback;
};

} // namespace hook
