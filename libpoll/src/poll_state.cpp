#include "poll_state.hpp"

#include <bit>
#include <new>

#include "libpoll/error.hpp"

namespace libpoll::detail {

Result<std::shared_ptr<PollState>> PollState::create(const PollOptions& options) noexcept {
  auto selector = sys::make_selector(options.backend, options.single_thread, options.receive_ahead);
  if (!selector) return Unexpected(selector.error());
  try {
    std::shared_ptr<PollState> state(new PollState(std::move(*selector), options));
    add_live_poll(state->id_, state);
    return state;
  } catch (const std::bad_alloc&) {
    return Unexpected(std::errc::not_enough_memory);
  }
}

PollState::PollState(std::shared_ptr<sys::Selector> selector, const PollOptions& options)
    : selector_(std::move(selector)),
      epoll_changes_(selector_->epoll_changes()),
      links_sources_(selector_->emulates_edges() || selector_->drain_clock() != nullptr),
      receives_ahead_(selector_->receives_ahead()),
      id_(next_poll_id()),
      ghosts_(selector_->removal_lost(), counts_),
      measure_blocked_time_(options.measure_blocked_time),
      created_(std::chrono::steady_clock::now()) {}

PollState::~PollState() {
  for_each_owned([](int, FdSlot& slot) { slot.unlock(kNoOwner); });
  remove_live_poll(id_);
}

RegistrationInfo PollState::retire(int fd, const BookEntry& entry, Retirement reason) noexcept {
  ghosts_.make_possible();  // the kernel may still hold it, under this token
  tokens_.remove(entry.token.value);
  if (entry.own) waker_fd_.store(-1, std::memory_order_relaxed);
  if (reason != Retirement::lost) count(stale_registrations_);
  try {
    std::lock_guard lock(retired_mutex_);
    if (retired_.size() == kMaxRetired) {
      if (retired_.front().reason == Retirement::lost) lost_records_.fetch_sub(1);
      retired_.erase(retired_.begin());
    }
    retired_.push_back(Retired{fd, entry, reason});
    if (reason == Retirement::lost) lost_records_.fetch_add(1);
    // Before the selector lets go of the number: where it took the file's identity, the
    // record keeps it, for the audit to tell a file kept open elsewhere from a closed one.
    retired_.back().entry.file = selector_->file_of(fd);
    return info_of(fd, retired_.back().entry);
  } catch (const std::bad_alloc&) {
    // The history is best effort; the live book is already consistent.
  }
  return info_of(fd, entry);
}

void PollState::replace_lost(int fd) noexcept {
  std::vector<RegistrationInfo> replaced;
  try {
    std::lock_guard lock(retired_mutex_);
    for (Retired& record : retired_) {
      if (record.fd != fd || record.reason != Retirement::lost) continue;
      record.reason = Retirement::replaced;
      lost_records_.fetch_sub(1);
      count(stale_registrations_);
      replaced.push_back(info_of(fd, record.entry));
    }
  } catch (const std::bad_alloc&) {
    // The records stay as they were: audits keep naming them.
  }
  for (const RegistrationInfo& info : replaced) report_lost(info);  // no lock held
}

RegistrationInfo PollState::retire_taken(int fd, const BookEntry& entry) noexcept {
  auto info = retire(fd, entry, Retirement::taken);
  // Where the selector watches numbers, it watched this one.
  (void)selector_->deregister_fd(fd, false);
  return info;
}

void PollState::retire_lost(int fd, FdSlot& slot) noexcept {
  (void)retire(fd, slot.entry, Retirement::lost);
  slot.unlock(kNoOwner);
}

bool PollState::has_waker() const noexcept {
  return waker_fd_.load(std::memory_order_relaxed) >= 0;
}

// The common case: this Poll holds the number, no other call is on it, the token stays.
Result<void> PollState::reregister_fd(int fd, Token token, Interest interest, sys::IoPath path,
                                      std::uint64_t drained_at) noexcept {
  if constexpr (kWithoutBook) return kernel_reregister(fd, token, interest, path, drained_at);
  FdSlot* slot = existing_slot_of(fd);
  WriterBias& bias = process_writer_bias();
  if (slot == nullptr || !bias.begin_if_owner()) [[unlikely]]
    return reregister_unbiased(fd, slot, {token, interest, path, drained_at});
  // The claim and the call's count in one section of the bias, as a register's.
  const bool locked = slot->try_lock_in_section(id_);
  const bool same_token = locked && token == slot->entry.token;
  if (same_token) counts_.add_in_section(kReregisters);
  bias.end();
  if (!locked) [[unlikely]]
    return reregister_waiting(fd, slot, {token, interest, path, drained_at});
  if (!same_token) [[unlikely]]
    return reregister_locked(fd, *slot, {token, interest, path, drained_at});
  auto reregistered = kernel_reregister(fd, token, interest, path, drained_at);
  if (!reregistered) [[unlikely]]
    return reregister_refused(*slot, reregistered.error());
  slot->entry.interest = interest;
  slot->unlock(id_);
  return {};
}

Result<void> PollState::reregister_unbiased(int fd, FdSlot* slot,
                                            const Reregistration& change) noexcept {
  if (slot == nullptr || !slot->try_lock_as(id_)) return reregister_waiting(fd, slot, change);
  return reregister_locked(fd, *slot, change);
}

Result<void> PollState::reregister_refused(FdSlot& slot, std::error_code error) noexcept {
  count_refused(refused_reregisters_);
  return failed_on_slot(slot, error);
}

Result<void> PollState::reregister_waiting(int fd, FdSlot* slot,
                                           const Reregistration& change) noexcept {
  if (auto locked = locked_or_refused(fd, slot); !locked) return locked;
  return reregister_locked(fd, *slot, change);
}

Result<void> PollState::reregister_locked(int fd, FdSlot& slot,
                                          const Reregistration& change) noexcept {
  const auto [token, interest, path, drained_at] = change;
  BookEntry& entry = slot.entry;
  const bool new_token = token != entry.token;
  // A recorded change that fails after the call would leave the kernel the old token.
  if (new_token) ghosts_.make_possible();
  if (new_token && !tokens_.add(token.value)) [[unlikely]] {
    slot.unlock(id_);
    return fail(std::make_error_code(std::errc::not_enough_memory));
  }
  auto reregistered = kernel_reregister(fd, token, interest, path, drained_at);
  if (!reregistered) {
    if (new_token) tokens_.remove(token.value);
    return failed_on_slot(slot, reregistered.error());
  }
  if (new_token) tokens_.remove(entry.token.value);
  entry.token = token;
  entry.interest = interest;
  slot.unlock(id_);
  counts_.add(kReregisters);
  return {};
}

Result<void> PollState::deregister_fd(int fd, bool may_defer) noexcept {
  if constexpr (kWithoutBook) return kernel_deregister(fd, may_defer);
  // A poll under way may hold this registration's last event: the removal is counted as begun
  // before its token leaves the book and its system call is made, for the ghost gate
  // (ghost_gate.hpp), and as done after the call.
  FdSlot* slot = existing_slot_of(fd);
  WriterBias& bias = process_writer_bias();
  if (slot != nullptr && bias.begin_if_owner()) [[likely]] {
    // The common deregister: the claim, the removal's begin and the token's leaving in one
    // section of the bias. The token leaves before the kernel's registration does: an event a
    // poll on another thread takes meanwhile is counted as a ghost, as one taken just before
    // the call already was.
    if (slot->try_lock_in_section(id_)) [[likely]] {
      counts_.add_in_section(kRemovalsBegun);
      const std::uint64_t token = slot->entry.token.value;
      if (token < TokenCounts::kDirectLimit) [[likely]] {
        tokens_.remove_in_section(token);
        bias.end();
        return deregister_begun(fd, *slot, may_defer, true, true);
      }
      bias.end();
      return deregister_large_token(fd, *slot, may_defer);
    }
    bias.end();
  }
  return deregister_unbiased(fd, slot, may_defer);
}

Result<void> PollState::deregister_large_token(int fd, FdSlot& slot, bool may_defer) noexcept {
  return deregister_begun(fd, slot, may_defer, false, true);
}

Result<void> PollState::deregister_unbiased(int fd, FdSlot* slot, bool may_defer) noexcept {
  if (slot == nullptr || !slot->try_lock_as(id_)) {
    if (auto locked = locked_or_refused(fd, slot); !locked) return locked;
  }
  counts_.add(kRemovalsBegun);
  return deregister_begun(fd, *slot, may_defer, false, false);
}

Result<void> PollState::deregister_begun(int fd, FdSlot& slot, bool may_defer, bool token_left,
                                         bool bias_owner) noexcept {
  GhostGate::begin_fence();
  auto deregistered = kernel_deregister(fd, may_defer);
  if (!deregistered) [[unlikely]]
    return deregister_refused(slot, deregistered.error(), token_left);
  // The kernel can no longer deliver the token: it leaves now if it has not, and the removal
  // is done, counted as this call.
  if (!token_left) tokens_.remove(slot.entry.token.value);
  if (bias_owner) {
    counts_.add_in_section(kDeregisters);
  } else {
    counts_.add(kDeregisters);
  }
  if (slot.entry.own) [[unlikely]]
    waker_fd_.store(-1, std::memory_order_relaxed);
  slot.unlock(kNoOwner);
  return {};
}

Result<void> PollState::deregister_refused(FdSlot& slot, std::error_code error,
                                           bool token_left) noexcept {
  if (token_left) (void)tokens_.add(slot.entry.token.value);  // the book as it was
  auto failed = failed_on_slot(slot, error);
  counts_.add(kRemovalsFailed);
  return failed;
}

Result<void> PollState::failed_on_slot(FdSlot& slot, std::error_code error) noexcept {
  if (registration_gone(error)) {
    retire_lost(slot.number(), slot);
  } else {
    slot.unlock(id_);
  }
  return fail(error);
}

Result<void> PollState::locked_or_refused(int fd, FdSlot* slot) noexcept {
  if (slot != nullptr) {
    const std::uint64_t owner = slot->lock();
    if (owner == id_) return {};  // another call held the bit; now this one does
    slot->unlock(owner);
  }
  return refuse(fd);
}

Result<void> PollState::refuse(int fd) noexcept {
  count(failed_operations_);
  // No descriptor at all (a moved-from source): invalid, as register_source says too.
  if (fd < 0) return Unexpected(std::errc::bad_file_descriptor);
  FdSlot* slot = existing_slot_of(fd);
  const std::uint64_t owner = slot != nullptr ? slot->owner() : kNoOwner;
  if (owner != kNoOwner && owner != id_) {
    // Ask the owner without holding the bit: its answer may be stale the moment it is given.
    auto other = find_live_poll(owner);
    if (other && other->holds(fd)) return Unexpected(Errc::registered_with_another_poll);
  }
  return Unexpected(Errc::not_registered);
}

Result<void> PollState::drained(int fd, Interest kinds) noexcept {
  // With the bit held, as every call on the registration: the selector's entry for `fd` is
  // written by no other call meanwhile.
  FdSlot* slot = existing_slot_of(fd);
  if (slot == nullptr || !slot->try_lock_as(id_)) {
    if (slot == nullptr) return Unexpected(Errc::not_registered);
    const std::uint64_t owner = slot->lock();
    if (owner != id_) {
      slot->unlock(owner);
      return Unexpected(Errc::not_registered);
    }
  }
  selector_->rearm_foreign(fd, kinds);
  slot->unlock(id_);
  return {};
}

Result<void> PollState::select(Events& events, int timeout_ms) noexcept {
  std::chrono::steady_clock::time_point start;
  if (measure_blocked_time_) start = std::chrono::steady_clock::now();
  auto selected = selector_->select(events, timeout_ms);
  if (measure_blocked_time_) {
    const auto blocked = std::chrono::steady_clock::now() - start;
    blocked_ns_.store(blocked_ns_.load(std::memory_order_relaxed) +
                          std::chrono::duration_cast<std::chrono::nanoseconds>(blocked).count(),
                      std::memory_order_relaxed);
  }
  if (!selected) return selected;

  const std::size_t count = events.size();
  bump(polls_);
  bump(events_, count);
  bump(events_per_poll_[std::min<std::size_t>(std::bit_width(count), events_per_poll_.size() - 1)]);
  if (count == 0 || !ghosts_.batch_may_hold_ghosts()) return {};
  const auto ghosts = tokens_.count_unknown(std::span<const Event>(events.begin(), events.end()));
  if (ghosts != 0) [[unlikely]]
    bump(ghost_events_, ghosts);
  return {};
}

}  // namespace libpoll::detail
