#include "signals.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>
#include <thread>
#include <vector>

namespace hook {

namespace {

int g_signal_pipe[2] = {-1, -1};

extern "C" void
on_signal(int signal_number)
{
  const int saved = errno;
  const auto byte = static_cast<char>(signal_number);
  [[maybe_unused]] const auto ignored = write(g_signal_pipe[1], &byte, 1);
  errno = saved;
}

std::mutex g_subscribers_mutex;
std::vector<std::shared_ptr<std::function<void()>>> g_subscribers;

void
deliver_hangup()
{
  std::vector<std::shared_ptr<std::function<void()>>> subscribers;
  {
    const std::lock_guard lock(g_subscribers_mutex);
    subscribers = g_subscribers;
  }
  if (subscribers.empty()) {
    std::cerr << "readygate: SIGHUP ignored: nothing to reload\n";
  }
  for (const auto& callback : subscribers) {
    (*callback)();
  }
}

void
install(int signal_number)
{
  struct sigaction action = {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(signal_number, &action, nullptr);
}

} // namespace

bool
watch_signals(std::stop_source stop, bool hangup)
{
  if (pipe2(g_signal_pipe, O_CLOEXEC) != 0) {
    return false;
  }
  std::thread([stop]() mutable {
    char byte = 0;
    bool stopping = false;
    while (read(g_signal_pipe[0], &byte, 1) == 1) {
      const int signal_number = static_cast<unsigned char>(byte);
      if (signal_number == SIGHUP) {
        deliver_hangup();
        continue;
      }
      if (stopping) {
        std::_Exit(128 + signal_number);
      }
      stopping = true;
      std::cerr << "readygate: interrupted by SIG" << sigabbrev_np(signal_number) << ", stopping\n";
      stop.request_stop();
    }
  }).detach();
  install(SIGINT);
  install(SIGTERM);
  if (hangup) {
    install(SIGHUP);
  }
  return true;
}

HangupSubscription
on_hangup(std::function<void()> callback)
{
  auto shared = std::make_shared<std::function<void()>>(std::move(callback));
  const std::lock_guard lock(g_subscribers_mutex);
  g_subscribers.push_back(shared);
  return HangupSubscription(std::move(shared));
}

HangupSubscription::HangupSubscription(std::shared_ptr<std::function<void()>> callback)
    : m_callback(std::move(callback))
{}

HangupSubscription::~HangupSubscription()
{
  if (!m_callback) {
    return;
  }
  const std::lock_guard lock(g_subscribers_mutex);
  std::erase(g_subscribers, m_callback);
}

} // namespace hook
