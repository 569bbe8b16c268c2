#pragma once

/// \file
/// `Backend`: which kernel interface a `Poll` waits with.

#include <string_view>

namespace libpoll {

/// The selector behind a `Poll`. `automatic` picks the best one for the platform (epoll on
/// Linux). Every backend gives the same edge-triggered semantics.
enum class Backend {
  automatic,
  epoll,
};

/// "automatic", "epoll".
[[nodiscard]] std::string_view to_string(Backend backend) noexcept;

}  // namespace libpoll
