#pragma once

// What the two backends that keep their own table of registrations share (poll(2) and
// io_uring): both speak poll(2) bits, and both list that table for the audit, because the
// kernel shows them no list of its own.

#include <poll.h>

#include <cstdint>
#include <optional>

#include "libpoll/detail/readiness.hpp"
#include "libpoll/fdinfo.hpp"
#include "libpoll/registration_info.hpp"

namespace libpoll::sys {

// poll(2) bits become Event bits unchanged.
static_assert(detail::readiness::in == POLLIN && detail::readiness::pri == POLLPRI &&
              detail::readiness::out == POLLOUT && detail::readiness::err == POLLERR &&
              detail::readiness::hup == POLLHUP && detail::readiness::rdhup == POLLRDHUP);

// One table entry as the audit reads it: its mask, its token, and the identity and access mode
// of the file it was registered for.
template <class TableEntry>
[[nodiscard]] KernelRegistration listed(int fd, const TableEntry& entry) {
  return KernelRegistration{.target_fd = fd,
                            .events = entry.interest,
                            .data = static_cast<std::uint64_t>(entry.token.value),
                            .position = std::nullopt,
                            .inode = entry.identity.inode,
                            .device = entry.identity.device,
                            .access_mode = entry.access_mode};
}

// The identity a table entry took at registration, as the book reports it.
template <class TableEntry>
[[nodiscard]] FileIdentity identity_of(const TableEntry& entry) noexcept {
  return FileIdentity{static_cast<std::uint64_t>(entry.identity.device),
                      static_cast<std::uint64_t>(entry.identity.inode)};
}

}  // namespace libpoll::sys
