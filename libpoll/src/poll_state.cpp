#include "poll_state.hpp"

#include <bit>
#include <new>

#include "libpoll/detail/registration_site.hpp"
#include "libpoll/error.hpp"

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
      ghosts_(selector_->removal_lost()),
      measure_blocked_time_(options.measure_blocked_time),
      created_(std::chrono::steady_clock::now()) {}

PollState::~PollState() {
  for_each_owned([](int, FdSlot& slot) { slot.unlock(kNoOwner); });
  remove_live_poll(id_);
}

void PollState::note_higher_number(int fd) noexcept {
  int highest = highest_fd_.load(std::memory_order_relaxed);
  while (fd > highest &&
         !highest_fd_.compare_exchange_weak(highest, fd, std::memory_order_relaxed)) {
  }
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

Result<void> PollState::register_waker_fd(int fd, Token token) noexcept {
  int none = -1;
  if (!waker_fd_.compare_exchange_strong(none, fd, std::memory_order_relaxed)) {
    return fail(Errc::waker_exists);
  }
  auto registered =
      register_slot(fd, token, Interest::readable, true, sys::IoPath::libpoll, nullptr);
  if (!registered) waker_fd_.store(-1, std::memory_order_relaxed);
  return registered;
}

bool PollState::has_waker() const noexcept {
  return waker_fd_.load(std::memory_order_relaxed) >= 0;
}

Result<void> PollState::register_claimed(int fd, FdSlot& slot, Token token, Interest interest,
                                         bool own, sys::IoPath path, EdgeLink* edge) noexcept {
  fill_entry(slot.entry, token, interest, own);
  if (!tokens_.add(token.value)) [[unlikely]] {  // before the kernel can deliver an event under it
    slot.unlock(kNoOwner);
    return fail(std::make_error_code(std::errc::not_enough_memory));
  }
  // A libpoll source's (it has an edge) may wait for the next poll: it closes its descriptor
  // only after whatever is recorded for it was made.
  auto registered = kernel_register(fd, token, interest, path, edge != nullptr);
  if (!registered) [[unlikely]] {
    tokens_.remove(token.value);
    slot.unlock(kNoOwner);
    return fail(registered.error());
  }
  if (fd > highest_fd_.load(std::memory_order_relaxed)) [[unlikely]]
    note_higher_number(fd);
  slot.unlock(id_);
  calls_.add(kRegisters);
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

Result<void> PollState::register_slot(int fd, Token token, Interest interest, bool own,
                                      sys::IoPath path, EdgeLink* edge) noexcept {
  if (sys::handed_out_rings::any()) [[unlikely]] {
    if (sys::handed_out_rings::names_one(fd)) return fail(Errc::nested_io_uring_poll);
  }
  FdSlot* slot = slot_of(fd);
  if (slot == nullptr || !slot->try_lock_as(kNoOwner)) [[unlikely]]
    return register_contested(fd, slot, token, interest, own, path, edge);
  return register_claimed(fd, *slot, token, interest, own, path, edge);
}

Result<void> PollState::register_contested(int fd, FdSlot* slot, Token token, Interest interest,
                                           bool own, sys::IoPath path, EdgeLink* edge) noexcept {
  if (slot == nullptr) {
    return fail(fd < 0 ? std::make_error_code(std::errc::bad_file_descriptor)
                       : std::make_error_code(std::errc::value_too_large));
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

// The common case: this Poll holds the number, no other call is on it, the token stays.
Result<void> PollState::reregister_fd(int fd, Token token, Interest interest, sys::IoPath path,
                                      std::uint64_t drained_at) noexcept {
  FdSlot* slot = existing_slot_of(fd);
  if (slot == nullptr || !slot->try_lock_as(id_)) [[unlikely]]
    return reregister_waiting(fd, slot, {token, interest, path, drained_at});
  if (token != slot->entry.token) [[unlikely]]
    return reregister_locked(fd, *slot, {token, interest, path, drained_at});
  auto reregistered = kernel_reregister(fd, token, interest, path, drained_at);
  if (!reregistered) [[unlikely]]
    return failed_on_slot(*slot, reregistered.error());
  slot->entry.interest = interest;
  slot->unlock(id_);
  calls_.add(kReregisters);
  return {};
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
  calls_.add(kReregisters);
  return {};
}

Result<void> PollState::deregister_fd(int fd, bool may_defer) noexcept {
  FdSlot* slot = existing_slot_of(fd);
  if (slot == nullptr || !slot->try_lock_as(id_)) [[unlikely]] {
    if (auto locked = locked_or_refused(fd, slot); !locked) return locked;
  }
  // A poll under way may hold this registration's last event: its batch is looked up.
  const auto removal = ghosts_.begin_removal();
  auto deregistered = kernel_deregister(fd, may_defer);
  if (!deregistered) [[unlikely]] {
    auto failed = failed_on_slot(*slot, deregistered.error());
    removal.end();
    return failed;
  }
  tokens_.remove(slot->entry.token.value);  // after the kernel can no longer deliver it
  removal.end();
  if (slot->entry.own) [[unlikely]]
    waker_fd_.store(-1, std::memory_order_relaxed);
  slot->unlock(kNoOwner);
  calls_.add(kDeregisters);
  return {};
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
