#pragma once

// The audit's join of the registration book with the selector's own list. Kept apart from
// PollState so that the classification rules sit in one place.

#include <source_location>
#include <span>

#include "libpoll/audit.hpp"
#include "libpoll/fdinfo.hpp"

namespace libpoll::detail {

struct BookRecord {
  int fd;
  Token token;
  Interest interest;
  std::source_location site;
};

// `live`: the book's registrations; `retired`: the ones it lost without a deregister (the fd was
// closed, or reused, first); `held`: the selector's list, with each file's identity when it was
// registered. Every descriptor number is looked up (fstat) as it is now.
[[nodiscard]] AuditReport audit_registrations(Backend backend, std::span<const BookRecord> live,
                                              std::span<const BookRecord> retired,
                                              std::span<const KernelRegistration> held);

}  // namespace libpoll::detail
