#include "support/expect_events.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace libpoll::testing {

Readiness Readiness::from(Interest interest) {
  return Readiness{.readable = interest.is_readable(),
                   .writable = interest.is_writable(),
                   .priority = interest.is_priority()};
}

bool Readiness::matches(const Event& event) const {
  return (!readable || event.is_readable()) && (!writable || event.is_writable()) &&
         (!error || event.is_error()) && (!read_closed || event.is_read_closed()) &&
         (!write_closed || event.is_write_closed()) && (!priority || event.is_priority());
}

std::string Readiness::to_string() const {
  std::string text;
  for (auto [set, name] : {std::pair{readable, "readable"},
                           {writable, "writable"},
                           {error, "error"},
                           {read_closed, "read_closed"},
                           {write_closed, "write_closed"},
                           {priority, "priority"}}) {
    if (set) text += text.empty() ? name : std::string(" | ") + name;
  }
  return text;
}

std::vector<Event> expect_events(Poll& poll, Events& events,
                                 std::initializer_list<ExpectedEvent> expected,
                                 std::chrono::milliseconds deadline) {
  std::vector<ExpectedEvent> missing(expected);
  std::vector<Event> seen;
  const auto give_up = std::chrono::steady_clock::now() + deadline;
  while (!missing.empty()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= give_up) break;
    auto polled = poll.poll(events, give_up - now);
    if (!polled) {
      ADD_FAILURE() << "poll failed: " << polled.error().message();
      return seen;
    }
    for (const Event& event : events) {
      seen.push_back(event);
      std::erase_if(missing, [&](const ExpectedEvent& want) {
        return want.token == event.token() && want.readiness.matches(event);
      });
    }
  }
  for (const auto& want : missing) {
    std::string got;
    for (const auto& event : seen) got += "\n  " + libpoll::to_string(event);
    ADD_FAILURE() << "no event for token " << want.token.value << " with "
                  << want.readiness.to_string() << " within " << deadline.count()
                  << " ms; events seen:" << (got.empty() ? " none" : got);
  }
  return seen;
}

void expect_no_events(Poll& poll, Events& events, std::chrono::milliseconds window) {
  const auto until = std::chrono::steady_clock::now() + window;
  for (auto now = std::chrono::steady_clock::now(); now < until;
       now = std::chrono::steady_clock::now()) {
    auto polled = poll.poll(events, until - now);
    ASSERT_TRUE(polled) << polled.error().message();
    for (const Event& event : events) ADD_FAILURE() << "unexpected " << libpoll::to_string(event);
  }
}

std::size_t count_events_for(Poll& poll, Events& events, Token token,
                             std::chrono::milliseconds settle, std::chrono::milliseconds deadline) {
  std::size_t count = 0;
  auto until = std::chrono::steady_clock::now() + deadline;
  bool settling = false;
  for (auto now = std::chrono::steady_clock::now(); now < until;
       now = std::chrono::steady_clock::now()) {
    auto polled = poll.poll(events, until - now);
    if (!polled) {
      ADD_FAILURE() << "poll failed: " << polled.error().message();
      break;
    }
    count += static_cast<std::size_t>(
        std::ranges::count_if(events, [&](const Event& event) { return event.token() == token; }));
    if (count > 0 && !settling) {
      settling = true;
      until = std::chrono::steady_clock::now() + settle;
    }
  }
  return count;
}

}  // namespace libpoll::testing
