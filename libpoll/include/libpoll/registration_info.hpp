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
  /// The file the registration was made for, taken by the book (fstat) when it was registered:
  /// still there after the descriptor is closed. Empty only if that fstat failed.
  std::optional<FileIdentity> file;
  /// Where in the caller's code `register_source` was called.
  std::source_location site;
};

/// "file.cpp:42 (function)".
[[nodiscard]] std::string to_string(const std::source_location& site);

/// "fd 7, token 3, READABLE, registered at file.cpp:42 (function)".
[[nodiscard]] std::string to_string(const RegistrationInfo& registration);

}  // namespace libpoll
