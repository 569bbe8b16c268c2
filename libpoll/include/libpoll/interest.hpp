#pragma once

/// \file
/// `Interest`: which readiness a registration asks to be told about.

#include <cstdint>
#include <optional>
#include <string>

#include "libpoll/detail/readiness.hpp"

namespace libpoll {

/// A non-empty set of readiness kinds: `readable`, `writable`, `priority`.
///
/// An empty interest cannot be constructed: there is no default constructor, and `remove`
/// returns `std::nullopt` rather than an empty set. To stop receiving events, deregister the
/// source.
///
/// ```cpp
/// auto both = libpoll::Interest::readable | libpoll::Interest::writable;
/// auto rest = both.remove(libpoll::Interest::writable);  // readable
/// ```
///
/// On epoll, `readable` maps to `EPOLLIN | EPOLLRDHUP`, `writable` to `EPOLLOUT` and
/// `priority` to `EPOLLPRI` (out-of-band TCP data, exceptional conditions on some files).
class Interest {
 public:
  static const Interest readable;
  static const Interest writable;
  static const Interest priority;

  /// The interest that asks for the readiness in `bits`, epoll's and poll(2)'s bit values (the
  /// inverse of the mapping below): `EPOLLIN` or `EPOLLRDHUP` gives readable, `EPOLLOUT`
  /// writable, `EPOLLPRI` priority; other bits are ignored. `std::nullopt` when none is set.
  [[nodiscard]] static constexpr std::optional<Interest> from_readiness(
      std::uint32_t bits) noexcept {
    std::uint8_t kinds = 0;
    if ((bits & (detail::readiness::in | detail::readiness::rdhup)) != 0) kinds |= kReadable;
    if ((bits & detail::readiness::out) != 0) kinds |= kWritable;
    if ((bits & detail::readiness::pri) != 0) kinds |= kPriority;
    if (kinds == 0) return std::nullopt;
    return Interest(kinds);
  }

  /// The union of both sets.
  [[nodiscard]] constexpr Interest add(Interest other) const noexcept {
    return Interest(static_cast<std::uint8_t>(bits_ | other.bits_));
  }
  /// This set without `other`, or `std::nullopt` when nothing would remain.
  [[nodiscard]] constexpr std::optional<Interest> remove(Interest other) const noexcept {
    const auto rest = static_cast<std::uint8_t>(bits_ & ~other.bits_);
    if (rest == 0) return std::nullopt;
    return Interest(rest);
  }

  [[nodiscard]] constexpr bool is_readable() const noexcept { return (bits_ & kReadable) != 0; }
  [[nodiscard]] constexpr bool is_writable() const noexcept { return (bits_ & kWritable) != 0; }
  [[nodiscard]] constexpr bool is_priority() const noexcept { return (bits_ & kPriority) != 0; }
  /// True when every kind in `other` is also in this set.
  [[nodiscard]] constexpr bool contains(Interest other) const noexcept {
    return (bits_ & other.bits_) == other.bits_;
  }

  constexpr Interest& operator|=(Interest other) noexcept { return *this = add(other); }
  friend constexpr Interest operator|(Interest a, Interest b) noexcept { return a.add(b); }
  friend constexpr bool operator==(Interest, Interest) noexcept = default;

 private:
  static constexpr std::uint8_t kReadable = 0b001;
  static constexpr std::uint8_t kWritable = 0b010;
  static constexpr std::uint8_t kPriority = 0b100;

  constexpr explicit Interest(std::uint8_t bits) noexcept : bits_(bits) {}

  std::uint8_t bits_;
};

inline constexpr Interest Interest::readable{Interest::kReadable};
inline constexpr Interest Interest::writable{Interest::kWritable};
inline constexpr Interest Interest::priority{Interest::kPriority};

/// "READABLE | WRITABLE" and so on, for logs and test failure messages.
std::string to_string(Interest interest);

}  // namespace libpoll
