#include "sys/selector.hpp"

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

}  // namespace libpoll::sys
