#pragma once

// Socket plumbing shared by the net types. Every socket is created non-blocking and
// close-on-exec in the same system call, so no other thread's fork/exec can inherit it.

#include <string_view>
#include <utility>

#include "libpoll/detail/io_result.hpp"
#include "libpoll/net/socket_addr.hpp"
#include "libpoll/owned_fd.hpp"
#include "libpoll/result.hpp"

namespace libpoll::net::ops {

inline constexpr int kListenBacklog = 1024;

[[nodiscard]] Result<OwnedFd> new_socket(int domain, int type) noexcept;
[[nodiscard]] Result<std::pair<OwnedFd, OwnedFd>> new_socket_pair(int type) noexcept;
[[nodiscard]] Result<void> bind(int fd, const SocketAddr& addr) noexcept;
[[nodiscard]] Result<void> listen(int fd) noexcept;
// A non-blocking connect: EINPROGRESS counts as success, the first writable event completes it.
[[nodiscard]] Result<void> connect(int fd, const SocketAddr& addr) noexcept;
// `edge`: the listener's link to an edge-emulating selector (see detail/io_result.hpp).
[[nodiscard]] Result<std::pair<OwnedFd, SocketAddr>> accept(int fd,
                                                            const detail::EdgeLink& edge) noexcept;
[[nodiscard]] Result<SocketAddr> local_addr(int fd) noexcept;

// The factories the net types are built from: a socket of `type` in the address's family,
// already bound (and listening), or already connecting.
[[nodiscard]] Result<OwnedFd> bound_socket(int type, const SocketAddr& addr) noexcept;
[[nodiscard]] Result<OwnedFd> listening_socket(const SocketAddr& addr) noexcept;
[[nodiscard]] Result<OwnedFd> connecting_socket(int type, const SocketAddr& addr) noexcept;
[[nodiscard]] Result<SocketAddr> peer_addr(int fd) noexcept;
// The TCP and UDP factories take IP addresses only: given a Unix one, socket(2) would make a
// Unix socket, and a TcpStream or UdpSocket would hold it. std::errc::address_family_not_supported
// (EAFNOSUPPORT, the kernel's word for a TCP connect to an address of another family).
[[nodiscard]] Result<void> require_ip(const SocketAddr& addr) noexcept;
[[nodiscard]] Result<void> set_int_option(int fd, int level, int name, int value) noexcept;
[[nodiscard]] Result<int> int_option(int fd, int level, int name) noexcept;

}  // namespace libpoll::net::ops
