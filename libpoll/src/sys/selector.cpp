#include "sys/selector.hpp"

#include <climits>

#include "sys/epoll_selector.hpp"

namespace libpoll::sys {

Result<std::shared_ptr<Selector>> make_selector(Backend backend) noexcept {
  switch (backend) {
    case Backend::automatic:
    case Backend::epoll: {
      auto selector = EpollSelector::create();
      if (!selector) return Unexpected(selector.error());
      return std::shared_ptr<Selector>(std::move(*selector));
    }
  }
  return Unexpected(std::errc::function_not_supported);
}

int timeout_to_milliseconds(std::optional<std::chrono::nanoseconds> timeout) noexcept {
  using std::chrono::milliseconds;
  if (!timeout) return -1;
  if (*timeout <= std::chrono::nanoseconds::zero()) return 0;
  // ceil in nanoseconds cannot overflow here: the value is positive and milliseconds are
  // coarser, so the result is at most nanoseconds::max() / 1e6 + 1.
  const auto ms = std::chrono::ceil<milliseconds>(*timeout).count();
  return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

}  // namespace libpoll::sys
