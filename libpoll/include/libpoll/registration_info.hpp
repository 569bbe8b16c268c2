#pragma once

/// \file
/// `RegistrationInfo`: what the registration book knows of one registration.

#include <cstdint>
#include <optional>
#include <source_location>
#include <string>

#include "libpoll/interest.hpp"
#include "libpoll/token.hpp"

namespace libpoll {

/// Which file a descriptor referred to: `st_dev` and `st_ino`.
struct FileIdentity {
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  friend bool operator==(const FileIdentity&, const FileIdentity&) = default;
};

/// One live registration of a `Poll`, as `Poll::registrations()` lists it and as the leak
/// handler receives it.
struct RegistrationInfo {
  int fd = -1;
  Token token{0};
  Interest interest = Interest::readable;
  /// The file the registration watches, as its selector knows it. epoll: read from the kernel's
  /// own record when listed, so it is there while the kernel holds the registration (a file
  /// closed through this descriptor but kept open by a duplicate included) and empty once the
  /// file is gone, the registration with it. poll(2) and io_uring: taken at registration, and
  /// still there after the descriptor is closed. No registration pays for it: a register makes
  /// no call of its own to learn it.
  std::optional<FileIdentity> file;
  /// Where in the caller's code `register_source` was called.
  std::source_location site;
};

/// "file.cpp:42 (function)".
[[nodiscard]] std::string to_string(const std::source_location& site);

/// "fd 7, token 3, READABLE, registered at file.cpp:42 (function)".
[[nodiscard]] std::string to_string(const RegistrationInfo& registration);

}  // namespace libpoll
