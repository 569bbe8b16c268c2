#pragma once

// The internal contract every backend implements. Poll and Registry talk only to this; each
// backend lives in its own file (epoll_selector.cpp, ...) and make_selector picks one.

#include <memory>

#include "libpoll/backend.hpp"
#include "libpoll/events.hpp"
#include "libpoll/interest.hpp"
#include "libpoll/result.hpp"
#include "libpoll/token.hpp"
#include "sys/waker_handle.hpp"

namespace libpoll::sys {

class Selector {
 public:
  Selector() = default;
  Selector(const Selector&) = delete;
  Selector& operator=(const Selector&) = delete;
  virtual ~Selector() = default;

  [[nodiscard]] virtual Backend backend() const noexcept = 0;

  // Clears `events` and fills it with at most events.capacity() edge-triggered events, waiting
  // at most `timeout_ms` (-1: no limit). select() is called by one thread at a time; everything
  // else is thread-safe.
  virtual Result<void> select(Events& events, int timeout_ms) noexcept = 0;

  virtual Result<void> register_fd(int fd, Token token, Interest interest) noexcept = 0;
  virtual Result<void> reregister_fd(int fd, Token token, Interest interest) noexcept = 0;
  virtual Result<void> deregister_fd(int fd) noexcept = 0;

  // A wake-up handle of the kind this selector can watch; the caller registers its fd.
  virtual Result<std::unique_ptr<WakerHandle>> make_waker() noexcept = 0;
};

[[nodiscard]] Result<std::shared_ptr<Selector>> make_selector(Backend backend) noexcept;

}  // namespace libpoll::sys
