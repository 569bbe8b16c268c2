#include "libpoll/event.hpp"

#include <string>

namespace libpoll {

std::string to_string(const Event& event) {
  std::string text = "Event { token: " + std::to_string(event.token().value);
  const std::pair<bool, const char*> flags[] = {
      {event.is_readable(), "readable"},
      {event.is_writable(), "writable"},
      {event.is_error(), "error"},
      {event.is_read_closed(), "read_closed"},
      {event.is_write_closed(), "write_closed"},
      {event.is_priority(), "priority"},
  };
  for (const auto& [set, name] : flags) {
    if (set) text.append(", ").append(name);
  }
  return text + " }";
}

}  // namespace libpoll
