#pragma once

// Readiness bits carried by an Event. They are the Linux epoll/poll bit values, so that the
// epoll selector hands the kernel's array to the caller without translating it; other
// selectors translate into these bits. epoll_selector.cpp checks the values with static_assert.

#include <cstdint>

namespace libpoll::detail::readiness {

inline constexpr std::uint32_t in = 0x001;      // EPOLLIN / POLLIN
inline constexpr std::uint32_t pri = 0x002;     // EPOLLPRI / POLLPRI
inline constexpr std::uint32_t out = 0x004;     // EPOLLOUT / POLLOUT
inline constexpr std::uint32_t err = 0x008;     // EPOLLERR / POLLERR
inline constexpr std::uint32_t hup = 0x010;     // EPOLLHUP / POLLHUP
inline constexpr std::uint32_t rdhup = 0x2000;  // EPOLLRDHUP / POLLRDHUP

}  // namespace libpoll::detail::readiness
