#include "libpoll/backend.hpp"

namespace libpoll {

std::string_view to_string(Backend backend) noexcept {
  switch (backend) {
    case Backend::automatic:
      return "automatic";
    case Backend::epoll:
      return "epoll";
  }
  return "unknown";
}

}  // namespace libpoll
