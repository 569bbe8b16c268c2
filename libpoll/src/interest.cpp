#include "libpoll/interest.hpp"

namespace libpoll {

std::string to_string(Interest interest) {
  std::string text;
  const auto append = [&text](const char* name) {
    if (!text.empty()) text += " | ";
    text += name;
  };
  if (interest.is_readable()) append("READABLE");
  if (interest.is_writable()) append("WRITABLE");
  if (interest.is_priority()) append("PRIORITY");
  return text;
}

}  // namespace libpoll
