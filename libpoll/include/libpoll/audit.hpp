#pragma once

/// \file
/// `AuditReport`: the registration book held against the selector's own list (`Poll::audit()`).

#include <cstddef>
#include <optional>
#include <source_location>
#include <string>
#include <string_view>
#include <vector>

#include "libpoll/backend.hpp"
#include "libpoll/interest.hpp"
#include "libpoll/token.hpp"

namespace libpoll {

/// What an audit can find wrong with a registration.
enum class DiscrepancyKind {
  /// The kernel has it; the book says it was deregistered, or never knew it.
  leaked,
  /// The book has it; the kernel dropped it (its last descriptor was closed without deregister).
  vanished,
  /// The kernel's registration points at a file the descriptor number no longer refers to
  /// (closed while a duplicate keeps the file open, or reused by another file). It keeps
  /// delivering events and cannot be deleted through that descriptor.
  zombie,
  /// The kernel's token or interest differs from the book's.
  interest_drift,
  /// Two registrations carry the same token, so their events cannot be told apart.
  token_collision,
  /// Two registrations target the same descriptor number or the same open file: the signature
  /// of registering a dup()'d or inherited descriptor, or of a zombie under a reused number.
  duplicate_target,
};

/// How many registrations the book remembers after losing track of them (their descriptor was
/// closed, and perhaps reused, before a deregister): the most `vanished` findings one audit can
/// name. The oldest are forgotten first, so that a loop that keeps making the mistake does not
/// grow without bound.
inline constexpr std::size_t audit_history = 1024;

/// "leaked", "vanished", "zombie", "interest_drift", "token_collision", "duplicate_target".
[[nodiscard]] std::string_view to_string(DiscrepancyKind kind) noexcept;

struct Discrepancy {
  DiscrepancyKind kind;
  int fd = -1;
  Token token{0};
  /// The interest the book holds, when the book knows the registration.
  std::optional<Interest> interest;
  /// The interest the kernel (or the poll(2) table) holds, when it holds the registration.
  std::optional<Interest> kernel_interest;
  /// Where the registration was made, when the book knows it.
  std::optional<std::source_location> site;
  /// One line saying what was found.
  std::string detail;
};

struct AuditReport {
  Backend backend = Backend::automatic;
  /// Registrations the kernel (or the poll(2) table) holds, and the book's live ones.
  std::size_t kernel_registrations = 0;
  std::size_t book_registrations = 0;
  std::vector<Discrepancy> discrepancies;

  [[nodiscard]] bool clean() const noexcept { return discrepancies.empty(); }
  [[nodiscard]] std::size_t count(DiscrepancyKind kind) const noexcept;
};

/// "zombie: fd 7, token 3, READABLE (registered at file.cpp:42 (function)): <detail>".
[[nodiscard]] std::string to_string(const Discrepancy& discrepancy);

}  // namespace libpoll
