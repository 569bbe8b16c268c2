#pragma once

// The audit's join of the registration book with the selector's own list. Kept apart from
// PollState so that the classification rules sit in one place.

#include <cstddef>
#include <source_location>
#include <span>

#include "libpoll/audit.hpp"
#include "libpoll/fdinfo.hpp"
#include "sys/selector.hpp"

namespace libpoll::detail {

struct BookRecord {
  int fd;
  Token token;
  Interest interest;
  std::source_location site;
  bool own = false;       // the Poll's Waker: checked, but not counted as a user registration
  bool replaced = false;  // retired when its number was registered again: reported back then
};

// The work one audit did, for tests that hold it to n log n.
struct AuditCost {
  std::size_t record_comparisons = 0;  // while indexing and looking up book records
  std::size_t file_comparisons = 0;    // while grouping registrations by open file
};

// `live`: the book's registrations; `retired`: the ones it lost without a deregister (the fd was
// closed, or reused, first), kept to name what the kernel may still hold and, unless replaced,
// reported as vanished; `held`: the selector's
// list, with each file's identity when it was registered. Every descriptor number is looked up
// (fstat) as it is now; `selector` names the backend and gives the mask it sets.
[[nodiscard]] AuditReport audit_registrations(const sys::Selector& selector,
                                              std::span<const BookRecord> live,
                                              std::span<const BookRecord> retired,
                                              std::span<const KernelRegistration> held,
                                              AuditCost* cost = nullptr);

}  // namespace libpoll::detail
