#include "net/socket_ops.hpp"

#include <sys/socket.h>

#include "libpoll/detail/io_result.hpp"
#include "libpoll/detail/syscall.hpp"

namespace libpoll::net::ops {

namespace {
constexpr int kNewFdFlags = SOCK_NONBLOCK | SOCK_CLOEXEC;
}

Result<OwnedFd> new_socket(int domain, int type) noexcept {
  auto fd = detail::syscall_int(::socket(domain, type | kNewFdFlags, 0));
  if (!fd) return Unexpected(fd.error());
  return OwnedFd(*fd);
}

Result<std::pair<OwnedFd, OwnedFd>> new_socket_pair(int type) noexcept {
  int fds[2];
  if (auto made = detail::syscall_void(::socketpair(AF_UNIX, type | kNewFdFlags, 0, fds)); !made) {
    return Unexpected(made.error());
  }
  return std::pair{OwnedFd(fds[0]), OwnedFd(fds[1])};
}

Result<void> bind(int fd, const SocketAddr& addr) noexcept {
  return detail::syscall_void(::bind(fd, addr.native(), addr.native_length()));
}

Result<void> listen(int fd) noexcept {
  return detail::syscall_void(::listen(fd, kListenBacklog));
}

Result<void> connect(int fd, const SocketAddr& addr) noexcept {
  auto connected = detail::syscall_void(::connect(fd, addr.native(), addr.native_length()));
  if (!connected && connected.error() == std::errc::operation_in_progress) return {};
  return connected;
}

Result<std::pair<OwnedFd, SocketAddr>> accept(int fd, const detail::EdgeLink& edge) noexcept {
  sockaddr_storage peer{};
  socklen_t length = sizeof peer;
  const int accepted = ::accept4(fd, reinterpret_cast<sockaddr*>(&peer), &length, kNewFdFlags);
  if (accepted < 0) return detail::io_error(Interest::readable, edge);
  if (edge.linked()) edge.rearm(Interest::readable);
  return std::pair{OwnedFd(accepted),
                   SocketAddr::from_native(reinterpret_cast<sockaddr*>(&peer), length)};
}

namespace {
template <class GetName>
Result<SocketAddr> socket_name(int fd, GetName get_name) noexcept {
  sockaddr_storage addr{};
  socklen_t length = sizeof addr;
  if (auto got = detail::syscall_void(get_name(fd, reinterpret_cast<sockaddr*>(&addr), &length));
      !got) {
    return Unexpected(got.error());
  }
  return SocketAddr::from_native(reinterpret_cast<sockaddr*>(&addr), length);
}
}  // namespace

Result<SocketAddr> local_addr(int fd) noexcept {
  return socket_name(fd, ::getsockname);
}

Result<SocketAddr> peer_addr(int fd) noexcept {
  return socket_name(fd, ::getpeername);
}

Result<void> require_ip(const SocketAddr& addr) noexcept {
  if (addr.is_ipv4() || addr.is_ipv6()) return {};
  return Unexpected(std::errc::address_family_not_supported);
}

Result<void> set_int_option(int fd, int level, int name, int value) noexcept {
  return detail::syscall_void(::setsockopt(fd, level, name, &value, sizeof value));
}

Result<int> int_option(int fd, int level, int name) noexcept {
  int value = 0;
  socklen_t length = sizeof value;
  if (auto got = detail::syscall_void(::getsockopt(fd, level, name, &value, &length)); !got) {
    return Unexpected(got.error());
  }
  return value;
}

Result<OwnedFd> bound_socket(int type, const SocketAddr& addr) noexcept {
  auto fd = new_socket(addr.family(), type);
  if (!fd) return fd;
  if (type == SOCK_STREAM && (addr.is_ipv4() || addr.is_ipv6())) {
    // SO_REUSEADDR lets a restarted server bind while old connections sit in TIME_WAIT. Not for
    // UDP, where it would let two sockets share a port.
    if (auto set = set_int_option(fd->get(), SOL_SOCKET, SO_REUSEADDR, 1); !set) {
      return Unexpected(set.error());
    }
  }
  if (auto bound = bind(fd->get(), addr); !bound) return Unexpected(bound.error());
  return fd;
}

Result<OwnedFd> listening_socket(const SocketAddr& addr) noexcept {
  auto fd = bound_socket(SOCK_STREAM, addr);
  if (!fd) return fd;
  if (auto listening = listen(fd->get()); !listening) return Unexpected(listening.error());
  return fd;
}

Result<OwnedFd> connecting_socket(int type, const SocketAddr& addr) noexcept {
  auto fd = new_socket(addr.family(), type);
  if (!fd) return fd;
  // For a Unix stream a full backlog is EAGAIN, not EINPROGRESS: no connection is in progress
  // to wait for, so it is reported.
  if (auto started = connect(fd->get(), addr); !started) return Unexpected(started.error());
  return fd;
}

}  // namespace libpoll::net::ops
