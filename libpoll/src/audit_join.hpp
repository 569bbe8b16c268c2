#pragma once

// The audit's join of the registration book with the selector's own list. Kept apart from
// PollState so that the classification rules sit in one place.

#include <cstddef>
#include <optional>
#include <source_location>
#include <span>

#include "libpoll/audit.hpp"
#include "libpoll/fdinfo.hpp"
#include "libpoll/registration_info.hpp"
#include "sys/selector.hpp"

namespace libpoll::detail {

// Why the book let go of a registration without a deregister.
enum class Retirement {
  lost,      // a registry call found its fd closed: audits keep naming it
  replaced,  // this Poll registered the number again: reported to the leak handler back then
  taken,     // another Poll registered the number: the backend may have stopped watching it, so
             // audits keep naming it on every backend, from the book's own record
};

struct BookRecord {
  int fd;
  Token token;
  Interest interest;
  std::source_location site;
  bool own = false;  // the Poll's Waker: checked, but not counted as a user registration
  Retirement retired = Retirement::lost;            // for retired records only
  std::optional<FileIdentity> file = std::nullopt;  // fstat at registration
};

// The work one audit did, for tests that hold it to n log n.
struct AuditCost {
  std::size_t record_comparisons = 0;  // while indexing and looking up book records
  std::size_t file_comparisons = 0;    // while grouping registrations by open file
};

// `live`: the book's registrations; `retired`: the ones it lost without a deregister (the fd was
// closed, or reused, first), kept to name what the kernel may still hold and, unless replaced,
// reported when the kernel holds nothing of them: as a zombie when the process still has the
// file open, otherwise as vanished; `held`: the selector's
// list, with each file's identity when it was registered. Every descriptor number is looked up
// (fstat) as it is now; `selector` names the backend and gives the mask it sets.
[[nodiscard]] AuditReport audit_registrations(const sys::Selector& selector,
                                              std::span<const BookRecord> live,
                                              std::span<const BookRecord> retired,
                                              std::span<const KernelRegistration> held,
                                              AuditCost* cost = nullptr);

}  // namespace libpoll::detail
