#pragma once

/// \file
/// `Events`: the fixed-capacity buffer that `Poll::poll` fills.

#include <cstddef>
#include <memory>
#include <utility>

#include "libpoll/event.hpp"

namespace libpoll {

namespace detail {
struct EventsAccess;
}

/// A buffer of at most `capacity()` events, filled by `Poll::poll` and read by iteration.
///
/// `poll` clears the buffer first and never stores more than its capacity: readiness that does
/// not fit stays queued in the selector and is returned by the next call, so a small buffer
/// costs more calls but loses nothing. A capacity of zero makes `poll` fail with
/// `std::errc::invalid_argument`.
///
/// ```cpp
/// libpoll::Events events(1024);
/// poll.poll(events, std::nullopt).value();
/// for (const libpoll::Event& event : events) handle(event.token());
/// ```
///
/// Events already in the buffer are a snapshot: deregistering or closing a source afterwards
/// does not remove its events from the buffer, so a handler must tolerate a token whose
/// connection it has just closed.
class Events {
 public:
  using value_type = Event;
  using const_iterator = const Event*;
  using iterator = const_iterator;

  explicit Events(std::size_t capacity)
      : storage_(std::make_unique_for_overwrite<Event[]>(capacity)), capacity_(capacity) {}

  /// A moved-from buffer has capacity zero.
  Events(Events&& other) noexcept
      : storage_(std::move(other.storage_)),
        capacity_(std::exchange(other.capacity_, 0)),
        size_(std::exchange(other.size_, 0)) {}
  Events& operator=(Events&& other) noexcept {
    storage_ = std::move(other.storage_);
    capacity_ = std::exchange(other.capacity_, 0);
    size_ = std::exchange(other.size_, 0);
    return *this;
  }

  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] const Event& operator[](std::size_t index) const noexcept {
    return storage_[index];
  }
  [[nodiscard]] const_iterator begin() const noexcept { return storage_.get(); }
  [[nodiscard]] const_iterator end() const noexcept { return storage_.get() + size_; }
  void clear() noexcept { size_ = 0; }

 private:
  friend struct detail::EventsAccess;

  std::unique_ptr<Event[]> storage_;
  std::size_t capacity_ = 0;
  std::size_t size_ = 0;
};

namespace detail {
// Lets selectors fill the buffer in place; not for users.
struct EventsAccess {
  static Event* data(Events& events) noexcept { return events.storage_.get(); }
  static void set_size(Events& events, std::size_t size) noexcept { events.size_ = size; }
};
}  // namespace detail

}  // namespace libpoll
