#include "poll_state.hpp"

#include <sys/stat.h>

#include <bit>
#include <new>

#include "fd_owners.hpp"
#include "libpoll/detail/registration_site.hpp"
#include "libpoll/error.hpp"

namespace libpoll::detail {

namespace {

bool registration_is_gone(const std::error_code& error) noexcept {
  // The kernel no longer has (this file, this fd): the fd was closed, or reused by another file.
  return error == std::errc::bad_file_descriptor || error == std::errc::no_such_file_or_directory;
}

}  // namespace

Result<std::shared_ptr<PollState>> PollState::create(const PollOptions& options) noexcept {
  auto selector = sys::make_selector(options.backend);
  if (!selector) return Unexpected(selector.error());
  try {
    std::shared_ptr<PollState> state(new PollState(std::move(*selector), options));
    add_live_poll(state->id_, state);
    return state;
  } catch (const std::bad_alloc&) {
    return Unexpected(std::errc::not_enough_memory);
  }
}

PollState::PollState(std::shared_ptr<sys::Selector> selector, const PollOptions& options) noexcept
    : selector_(std::move(selector)),
      links_sources_(selector_->emulates_edges() || selector_->drain_clock() != nullptr),
      id_(next_poll_id()),
      measure_blocked_time_(options.measure_blocked_time),
      created_(std::chrono::steady_clock::now()) {}

PollState::~PollState() {
  for (std::size_t fd = 0; fd < entries_.size(); ++fd) {
    if (entries_[fd].live) release_fd(static_cast<int>(fd), id_);
  }
  remove_live_poll(id_);
}

void PollState::add_entry(int fd, const Entry& entry) {
  const auto index = static_cast<std::size_t>(fd);
  if (index >= entries_.size()) entries_.resize(std::max(index + 1, entries_.size() * 2));
  tokens_.add(entry.token.value);
  entries_[index] = entry;
  entries_[index].live = true;
  if (entry.own) waker_fd_ = fd;
  ++live_count_;
}

void PollState::forget(int fd) noexcept {
  Entry& entry = entries_[static_cast<std::size_t>(fd)];
  tokens_.remove(entry.token.value);
  entry.live = false;
  if (entry.own) waker_fd_ = -1;
  --live_count_;
  release_fd(fd, id_);
}

RegistrationInfo PollState::retire(int fd, bool replaced) noexcept {
  const Entry entry = entries_[static_cast<std::size_t>(fd)];
  forget(fd);
  if (replaced) bump(stale_registrations_);
  try {
    if (retired_.size() == kMaxRetired) retired_.erase(retired_.begin());
    retired_.push_back(Retired{fd, entry, replaced});
  } catch (const std::bad_alloc&) {
    // The history is best effort; the live book is already consistent.
  }
  return info_of(fd, entry);
}

Result<void> PollState::claim(int fd) noexcept {
  const std::uint64_t other = claim_fd(fd, id_);
  if (other == kNoOwner) return {};
  // Another Poll claims this fd. Either it really holds the file now at `fd` (misuse), or its
  // registration is stale: the fd was closed without deregister and the number reused.
  if (auto state = find_live_poll(other); state && state->confirm_or_retire(fd)) {
    return Unexpected(Errc::registered_with_another_poll);
  }
  if (transfer_fd(fd, other, id_) || claim_fd(fd, id_) == kNoOwner) return {};
  return Unexpected(Errc::registered_with_another_poll);
}

bool PollState::confirm_or_retire(int fd) noexcept {
  std::optional<RegistrationInfo> lost;
  {
    std::lock_guard lock(mutex_);
    if (live_entry(fd) == nullptr) return false;
    if (selector_->holds(fd)) return true;
    lost = retire(fd, true);
    (void)selector_->deregister_fd(fd);
  }
  report_lost(*lost);
  return false;
}

bool PollState::holds_live(int fd) noexcept {
  std::lock_guard lock(mutex_);
  return live_entry(fd) != nullptr && selector_->holds(fd);
}

bool PollState::held_by_another_poll(int fd) const noexcept {
  const std::uint64_t other = owner_of(fd);
  if (other == kNoOwner || other == id_) return false;
  auto state = find_live_poll(other);
  return state && state->holds_live(fd);
}

Result<void> PollState::register_fd(int fd, Token token, Interest interest, sys::IoPath path,
                                    EdgeLink* edge) noexcept {
  const std::source_location site =
      current_registration_site != nullptr ? *current_registration_site : std::source_location();
  return register_entry(
      fd, Entry{.token = token, .interest = interest, .site = site, .file = std::nullopt}, path,
      edge);
}

Result<void> PollState::register_waker_fd(int fd, Token token) noexcept {
  const std::source_location site =
      current_registration_site != nullptr ? *current_registration_site : std::source_location();
  return register_entry(fd,
                        Entry{.own = true,
                              .token = token,
                              .interest = Interest::readable,
                              .site = site,
                              .file = std::nullopt},
                        sys::IoPath::libpoll);
}

bool PollState::has_waker() const noexcept {
  std::lock_guard lock(mutex_);
  return waker_fd_ >= 0;
}

Result<void> PollState::register_entry(int fd, Entry entry, sys::IoPath path,
                                       EdgeLink* edge) noexcept {
  struct stat status;  // NOLINT: filled by fstat, read only on success
  if (::fstat(fd, &status) == 0) {
    entry.file = FileIdentity{static_cast<std::uint64_t>(status.st_dev),
                              static_cast<std::uint64_t>(status.st_ino)};
  }
  std::optional<RegistrationInfo> replaced;
  auto claimed = claim(fd);
  if (!claimed) {
    bump(failed_operations_);
    return claimed;
  }
  auto registered = register_locked(fd, entry, path, edge, replaced);
  if (replaced) report_lost(*replaced);
  return registered;
}

Result<void> PollState::register_locked(int fd, const Entry& entry, sys::IoPath path,
                                        EdgeLink* edge,
                                        std::optional<RegistrationInfo>& replaced) noexcept {
  std::lock_guard lock(mutex_);
  if (entry.own && waker_fd_ >= 0) {
    bump(failed_operations_);
    release_fd(fd, id_);
    return Unexpected(Errc::waker_exists);
  }
  if (live_entry(fd) != nullptr) {
    if (selector_->holds(fd)) {
      bump(failed_operations_);
      return Unexpected(Errc::already_registered);
    }
    // The book's entry is stale: its file was closed, and the number reused, without a
    // deregister. Report it once and make room for the new registration.
    replaced = retire(fd, true);
    (void)selector_->deregister_fd(fd);
    (void)claim_fd(fd, id_);
  }
  auto registered = selector_->register_fd(fd, entry.token, entry.interest, path);
  if (!registered) {
    bump(failed_operations_);
    release_fd(fd, id_);
    return registered;
  }
  try {
    add_entry(fd, entry);
  } catch (const std::bad_alloc&) {
    (void)selector_->deregister_fd(fd);
    release_fd(fd, id_);
    bump(failed_operations_);
    return Unexpected(std::errc::not_enough_memory);
  }
  bump(registers_);
  if (edge != nullptr && links_sources_) [[unlikely]]
    edge->link(selector_, fd);
  return {};
}

Result<void> PollState::reregister_fd(int fd, Token token, Interest interest, sys::IoPath path,
                                      std::uint64_t drained_at) noexcept {
  std::unique_lock lock(mutex_);
  Entry* entry = live_entry(fd);
  if (entry == nullptr) {
    bump(failed_operations_);
    lock.unlock();  // never hold two books' locks at once
    if (held_by_another_poll(fd)) return Unexpected(Errc::registered_with_another_poll);
    return Unexpected(Errc::not_registered);
  }
  auto reregistered = selector_->reregister_fd(fd, token, interest, path, drained_at);
  if (!reregistered) {
    bump(failed_operations_);
    if (registration_is_gone(reregistered.error())) (void)retire(fd, false);
    return reregistered;
  }
  if (token != entry->token) {
    try {
      tokens_.add(token.value);
    } catch (const std::bad_alloc&) {
      bump(failed_operations_);
      return Unexpected(std::errc::not_enough_memory);
    }
    tokens_.remove(entry->token.value);
    entry->token = token;
  }
  entry->interest = interest;
  bump(reregisters_);
  return {};
}

Result<void> PollState::deregister_fd(int fd) noexcept {
  std::unique_lock lock(mutex_);
  if (live_entry(fd) == nullptr) {
    bump(failed_operations_);
    lock.unlock();  // never hold two books' locks at once
    if (held_by_another_poll(fd)) return Unexpected(Errc::registered_with_another_poll);
    return Unexpected(Errc::not_registered);
  }
  auto deregistered = selector_->deregister_fd(fd);
  if (!deregistered) {
    bump(failed_operations_);
    if (registration_is_gone(deregistered.error())) (void)retire(fd, false);
    return deregistered;
  }
  forget(fd);
  bump(deregisters_);
  return {};
}

Result<void> PollState::drained(int fd, Interest kinds) noexcept {
  std::lock_guard lock(mutex_);
  if (live_entry(fd) == nullptr) return Unexpected(Errc::not_registered);
  selector_->rearm_foreign(fd, kinds);
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
  if (count == 0) return {};
  const std::span<const Event> returned(events.begin(), events.end());
  auto ghosts = tokens_.count_unknown(returned);
  if (!ghosts) {  // a registry operation raced the lookup: ask again under its lock
    std::lock_guard lock(mutex_);
    ghosts = tokens_.count_unknown_locked(returned);
  }
  if (*ghosts != 0) bump(ghost_events_, *ghosts);
  return {};
}

}  // namespace libpoll::detail
