#include "poll_state.hpp"

#include <bit>
#include <new>

#include "audit_join.hpp"
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
      id_(next_poll_id()),
      measure_blocked_time_(options.measure_blocked_time),
      created_(std::chrono::steady_clock::now()) {}

PollState::~PollState() {
  for (std::size_t fd = 0; fd < entries_.size(); ++fd) {
    if (entries_[fd].live) release_fd(static_cast<int>(fd), id_);
  }
  remove_live_poll(id_);
}

void PollState::add_entry(int fd, Token token, Interest interest,
                          const std::source_location& site) {
  const auto index = static_cast<std::size_t>(fd);
  if (index >= entries_.size()) entries_.resize(std::max(index + 1, entries_.size() * 2));
  tokens_.add(token.value);
  entries_[index] = Entry{.live = true, .token = token, .interest = interest, .site = site};
  ++live_count_;
}

void PollState::forget(int fd) noexcept {
  Entry& entry = entries_[static_cast<std::size_t>(fd)];
  tokens_.remove(entry.token.value);
  entry.live = false;
  --live_count_;
  release_fd(fd, id_);
}

void PollState::retire(int fd) noexcept {
  const Entry entry = entries_[static_cast<std::size_t>(fd)];
  forget(fd);
  try {
    if (retired_.size() == kMaxRetired) retired_.erase(retired_.begin());
    retired_.push_back(Retired{fd, entry});
  } catch (const std::bad_alloc&) {
    // The history is best effort; the live book is already consistent.
  }
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
  std::lock_guard lock(mutex_);
  if (live_entry(fd) == nullptr) return false;
  if (selector_->holds(fd)) return true;
  retire(fd);
  (void)selector_->deregister_fd(fd);
  return false;
}

Result<void> PollState::register_fd(int fd, Token token, Interest interest,
                                    sys::IoPath path) noexcept {
  const std::source_location site =
      current_registration_site != nullptr ? *current_registration_site : std::source_location();
  auto claimed = claim(fd);
  std::lock_guard lock(mutex_);
  if (!claimed) {
    bump(failed_operations_);
    return claimed;
  }
  if (live_entry(fd) != nullptr) {
    if (selector_->holds(fd)) {
      bump(failed_operations_);
      return Unexpected(Errc::already_registered);
    }
    // The book's entry is stale: its file was closed, and the number reused, without a
    // deregister. Keep it for the audit and make room for the new registration.
    retire(fd);
    (void)selector_->deregister_fd(fd);
    (void)claim_fd(fd, id_);
  }
  auto registered = selector_->register_fd(fd, token, interest, path);
  if (!registered) {
    bump(failed_operations_);
    release_fd(fd, id_);
    return registered;
  }
  try {
    add_entry(fd, token, interest, site);
  } catch (const std::bad_alloc&) {
    (void)selector_->deregister_fd(fd);
    release_fd(fd, id_);
    bump(failed_operations_);
    return Unexpected(std::errc::not_enough_memory);
  }
  bump(registers_);
  return {};
}

Result<void> PollState::reregister_fd(int fd, Token token, Interest interest) noexcept {
  std::lock_guard lock(mutex_);
  Entry* entry = live_entry(fd);
  if (entry == nullptr) {
    bump(failed_operations_);
    return Unexpected(Errc::not_registered);
  }
  auto reregistered = selector_->reregister_fd(fd, token, interest);
  if (!reregistered) {
    bump(failed_operations_);
    if (registration_is_gone(reregistered.error())) retire(fd);
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
  std::lock_guard lock(mutex_);
  if (live_entry(fd) == nullptr) {
    bump(failed_operations_);
    return Unexpected(Errc::not_registered);
  }
  auto deregistered = selector_->deregister_fd(fd);
  if (!deregistered) {
    bump(failed_operations_);
    if (registration_is_gone(deregistered.error())) retire(fd);
    return deregistered;
  }
  forget(fd);
  bump(deregisters_);
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

std::vector<RegistrationInfo> PollState::registrations() const {
  std::vector<RegistrationInfo> list;
  {
    std::lock_guard lock(mutex_);
    list.reserve(live_count_);
    for (std::size_t fd = 0; fd < entries_.size(); ++fd) {
      const Entry& entry = entries_[fd];
      if (!entry.live) continue;
      list.push_back(RegistrationInfo{.fd = static_cast<int>(fd),
                                      .token = entry.token,
                                      .interest = entry.interest,
                                      .file = std::nullopt,
                                      .site = entry.site});
    }
  }
  // The selector's record carries each file's identity at registration time.
  if (auto held = selector_->registrations()) {
    for (RegistrationInfo& info : list) {
      for (const KernelRegistration& kernel : *held) {
        if (kernel.target_fd != info.fd || kernel.data != info.token.value) continue;
        if (kernel.inode && kernel.device) info.file = FileIdentity{*kernel.device, *kernel.inode};
      }
    }
  }
  return list;
}

Result<AuditReport> PollState::audit() const {
  std::vector<BookRecord> live;
  std::vector<BookRecord> retired;
  {
    std::lock_guard lock(mutex_);
    for (std::size_t fd = 0; fd < entries_.size(); ++fd) {
      const Entry& entry = entries_[fd];
      if (entry.live) {
        live.push_back({static_cast<int>(fd), entry.token, entry.interest, entry.site});
      }
    }
    for (const Retired& gone : retired_) {
      retired.push_back({gone.fd, gone.entry.token, gone.entry.interest, gone.entry.site});
    }
  }
  auto kernel = selector_->registrations();
  if (!kernel) return Unexpected(kernel.error());
  return audit_registrations(selector_->backend(), live, retired, *kernel);
}

PollMetrics PollState::metrics() const noexcept {
  const auto load = [](const std::atomic<std::uint64_t>& counter) {
    return counter.load(std::memory_order_relaxed);
  };
  PollMetrics metrics;
  metrics.polls = load(polls_);
  metrics.events = load(events_);
  metrics.ghost_events = load(ghost_events_);
  metrics.registers = load(registers_);
  metrics.reregisters = load(reregisters_);
  metrics.deregisters = load(deregisters_);
  metrics.failed_operations = load(failed_operations_);
  metrics.guard_failures = load(guard_failures_);
  for (std::size_t bucket = 0; bucket < events_per_poll_.size(); ++bucket) {
    metrics.events_per_poll[bucket] = load(events_per_poll_[bucket]);
  }
  if (measure_blocked_time_) {
    metrics.blocked_time = std::chrono::nanoseconds(blocked_ns_.load(std::memory_order_relaxed));
    metrics.measured_time = std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::steady_clock::now() - created_);
  }
  return metrics;
}

}  // namespace libpoll::detail
