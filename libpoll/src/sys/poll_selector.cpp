// TEMPORARY stub in main until the poll(2) backend lands.
#include "sys/poll_selector.hpp"
namespace libpoll::sys {
Result<std::unique_ptr<PollSelector>> PollSelector::create() noexcept {
  return Unexpected(std::errc::function_not_supported);
}
void PollSelector::rearm_everywhere(int, Interest) noexcept {}
}  // namespace libpoll::sys
