// The registry's register: the common path, which claims a free slot, counts the token and the
// call in one section of the writer bias and makes no call before its system call, and the
// slower ones (no bias, a slot owned or stale, the Poll's own Waker).

#include <optional>

#include "libpoll/detail/registration_site.hpp"
#include "libpoll/error.hpp"
#include "poll_state.hpp"

namespace libpoll::detail {

namespace {

// Fills a slot's entry in place: the slot is already claimed, so nothing is copied twice. The
// file's identity is not looked up here: that would double a register's system calls. The
// selector keeps it where it needs it (poll(2), io_uring), and epoll's kernel lists it.
void fill_entry(BookEntry& entry, Token token, Interest interest, bool own) noexcept {
  entry.token = token;
  entry.interest = interest;
  entry.own = own;
  entry.site =
      current_registration_site != nullptr ? *current_registration_site : std::source_location();
}

}  // namespace

Result<void> PollState::register_waker_fd(int fd, Token token) noexcept {
  int none = -1;
  if (!waker_fd_.compare_exchange_strong(none, fd, std::memory_order_relaxed)) {
    return fail(Errc::waker_exists);
  }
  auto registered =
      register_unbiased(fd, token, Interest::readable, true, sys::IoPath::libpoll, nullptr);
  if (!registered) waker_fd_.store(-1, std::memory_order_relaxed);
  return registered;
}

Result<void> PollState::register_claimed(int fd, FdSlot& slot, Token token, Interest interest,
                                         bool own, sys::IoPath path, EdgeLink* edge) noexcept {
  if (!tokens_.add(token.value)) [[unlikely]] {  // before the kernel can deliver an event under it
    slot.unlock(kNoOwner);
    return fail(std::make_error_code(std::errc::not_enough_memory));
  }
  return register_counted(fd, slot, token, interest, own, path, edge, false);
}

Result<void> PollState::register_counted(int fd, FdSlot& slot, Token token, Interest interest,
                                         bool own, sys::IoPath path, EdgeLink* edge,
                                         bool counted) noexcept {
  fill_entry(slot.entry, token, interest, own);
  // A libpoll source's (it has an edge) may wait for the next poll: it closes its descriptor
  // only after whatever is recorded for it was made.
  auto registered = kernel_register(fd, token, interest, path, edge != nullptr);
  if (!registered) [[unlikely]]
    return register_refused(slot, registered.error(), counted);
  slot.unlock(id_);
  if (!counted) counts_.add(kRegisters);
  if (edge != nullptr && links_sources_) [[unlikely]]
    edge->link(selector_, fd);
  if (edge != nullptr && receives_ahead_ && edge->byte_stream()) [[unlikely]]
    selector_->receive_ahead(fd, edge->receiver());
  // A registration this Poll lost under the number (a registry call found it closed) is
  // replaced by this one, as a stale one found at the claim is.
  if (lost_records_.load(std::memory_order_relaxed) != 0) [[unlikely]]
    replace_lost(fd);
  return {};
}

Result<void> PollState::register_refused(FdSlot& slot, std::error_code error,
                                         bool counted) noexcept {
  tokens_.remove(slot.entry.token.value);
  slot.unlock(kNoOwner);
  if (counted) count_refused(refused_registers_);
  return fail(error);
}

Result<void> PollState::register_slot(int fd, Token token, Interest interest, sys::IoPath path,
                                      EdgeLink* edge) noexcept {
  if constexpr (kWithoutBook) {
    auto registered = kernel_register(fd, token, interest, path, edge != nullptr);
    if (registered && edge != nullptr && links_sources_) edge->link(selector_, fd);
    if (registered && edge != nullptr && receives_ahead_ && edge->byte_stream())
      selector_->receive_ahead(fd, edge->receiver());
    return registered;
  }
  // Nothing on the way to the system call makes a call: the arguments stay in their registers.
  FdSlot* slot = existing_slot_of(fd);
  WriterBias& bias = process_writer_bias();
  if (slot == nullptr || token.value >= TokenCounts::kDirectLimit || sys::handed_out_rings::any() ||
      !bias.begin_if_owner()) [[unlikely]]
    return register_unbiased(fd, token, interest, false, path, edge);
  // The common register: the claim, the token's count and the call's count in one section of
  // the bias. The call is counted before the kernel answers, and counted back if it refuses.
  const bool claimed = slot->try_lock_in_section(kNoOwner);
  if (claimed) {
    tokens_.add_in_section(token.value);
    counts_.add_in_section(kRegisters);
  }
  bias.end();
  if (!claimed) [[unlikely]]
    return register_contested(fd, slot, token, interest, false, path, edge);
  return register_counted(fd, *slot, token, interest, false, path, edge, true);
}

Result<void> PollState::register_unbiased(int fd, Token token, Interest interest, bool own,
                                          sys::IoPath path, EdgeLink* edge) noexcept {
  if (sys::handed_out_rings::any()) {
    if (sys::handed_out_rings::names_one(fd)) return fail(Errc::nested_io_uring_poll);
  }
  FdSlot* slot = slot_of(fd);
  if (slot == nullptr || !slot->try_lock_as(kNoOwner))
    return register_contested(fd, slot, token, interest, own, path, edge);
  return register_claimed(fd, *slot, token, interest, own, path, edge);
}

Result<void> PollState::register_contested(int fd, FdSlot* slot, Token token, Interest interest,
                                           bool own, sys::IoPath path, EdgeLink* edge) noexcept {
  if (slot == nullptr) {
    return fail(fd < 0 ? std::make_error_code(std::errc::bad_file_descriptor)
                       : std::make_error_code(std::errc::not_enough_memory));
  }
  std::optional<Lost> lost;
  if (auto taken = take_slot(fd, *slot, lost); !taken) return taken;
  auto registered = register_claimed(fd, *slot, token, interest, own, path, edge);
  if (lost) (lost->owner != nullptr ? *lost->owner : *this).report_lost(lost->info);
  return registered;
}

Result<void> PollState::take_slot(int fd, FdSlot& slot, std::optional<Lost>& lost) noexcept {
  const std::uint64_t owner = slot.lock();
  if (owner == kNoOwner) return {};
  if (owner == id_) {
    if (selector_->holds(fd)) {
      slot.unlock(owner);
      return fail(Errc::already_registered);
    }
    // The book's entry is stale: its file was closed, and the number reused, without a
    // deregister. Report it once and make room for the new registration.
    lost = Lost{nullptr, retire(fd, slot.entry, Retirement::replaced)};
    (void)selector_->deregister_fd(fd, false);
    return {};
  }
  // Another Poll claims this number. Either it really holds the file now at `fd` (misuse), or
  // its registration is stale: the fd was closed without deregister and the number reused.
  auto other = find_live_poll(owner);
  if (other && other->holds(fd)) {
    slot.unlock(owner);
    return fail(Errc::registered_with_another_poll);
  }
  if (other) lost = Lost{other, other->retire_taken(fd, slot.entry)};
  return {};
}

}  // namespace libpoll::detail
