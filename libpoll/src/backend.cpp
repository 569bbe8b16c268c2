#include "libpoll/backend.hpp"

#include <array>

namespace libpoll {

namespace {
constexpr std::array kBackends = {Backend::automatic, Backend::epoll, Backend::poll,
                                  Backend::io_uring};
}

std::string_view to_string(Backend backend) noexcept {
  switch (backend) {
    case Backend::automatic:
      return "automatic";
    case Backend::epoll:
      return "epoll";
    case Backend::poll:
      return "poll";
    case Backend::io_uring:
      return "io_uring";
  }
  return "unknown";
}

std::optional<Backend> parse_backend(std::string_view name) noexcept {
  for (Backend backend : kBackends) {
    if (to_string(backend) == name) return backend;
  }
  return std::nullopt;
}

}  // namespace libpoll
