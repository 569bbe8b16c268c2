#pragma once

/// \file
/// `Token`: the caller's name for a registration.

#include <compare>
#include <cstddef>
#include <functional>

namespace libpoll {

/// Identifies a registered source in the events that `Poll::poll` returns.
///
/// A token is any `std::size_t` the caller chooses (all values round-trip, the maximum
/// included); libpoll never interprets it. Typical uses are an index into a slab of connections
/// or a pointer cast to an integer. The registry does not check that tokens are unique: two
/// sources registered under one token produce events that cannot be told apart.
///
/// ```cpp
/// constexpr libpoll::Token kListener{0};
/// registry.register_source(listener, kListener, libpoll::Interest::readable);
/// ```
struct Token {
  std::size_t value = 0;

  friend constexpr bool operator==(Token, Token) noexcept = default;
  friend constexpr auto operator<=>(Token, Token) noexcept = default;
};

}  // namespace libpoll

template <>
struct std::hash<libpoll::Token> {
  std::size_t operator()(libpoll::Token token) const noexcept { return token.value; }
};
