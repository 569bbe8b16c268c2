#pragma once

// Bounded waits on real events: the only way libpoll tests synchronise. No test sleeps.

#include <chrono>
#include <initializer_list>
#include <string>
#include <vector>

#include "libpoll/libpoll.hpp"

namespace libpoll::testing {

using namespace std::chrono_literals;

/// The readiness a test expects in an event; every flag that is set must be set in the event.
struct Readiness {
  bool readable = false;
  bool writable = false;
  bool error = false;
  bool read_closed = false;
  bool write_closed = false;
  bool priority = false;

  static Readiness from(Interest interest);
  [[nodiscard]] bool matches(const Event& event) const;
  [[nodiscard]] std::string to_string() const;
};

inline constexpr Readiness kReadable{.readable = true};
inline constexpr Readiness kWritable{.writable = true};
inline constexpr Readiness kReadClosed{.read_closed = true};
inline constexpr Readiness kWriteClosed{.write_closed = true};
inline constexpr Readiness kPriority{.priority = true};

struct ExpectedEvent {
  Token token;
  Readiness readiness;
};

/// Polls until every expected event has been seen (each expectation is satisfied by any event
/// with its token and at least its readiness), failing the test after `deadline`. Returns every
/// event seen meanwhile.
std::vector<Event> expect_events(Poll& poll, Events& events,
                                 std::initializer_list<ExpectedEvent> expected,
                                 std::chrono::milliseconds deadline = 5s);

/// Polls for `window` and fails the test if any event arrives.
void expect_no_events(Poll& poll, Events& events, std::chrono::milliseconds window = 50ms);

/// Polls until an event for `token` arrives (or `deadline`); returns how many such events the
/// polls returned in total, after waiting `settle` more for any duplicate.
std::size_t count_events_for(Poll& poll, Events& events, Token token,
                             std::chrono::milliseconds settle = 50ms,
                             std::chrono::milliseconds deadline = 5s);

}  // namespace libpoll::testing
