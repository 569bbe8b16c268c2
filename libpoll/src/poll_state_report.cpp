// What a PollState tells about itself: the listing, the audit, the counters and the leak reports.

#include <algorithm>
#include <cstdio>
#include <string>
#include <tuple>

#include "audit_files.hpp"
#include "audit_join.hpp"
#include "poll_state.hpp"

namespace libpoll::detail {

namespace {

// The default leak handler: a headline, then one line per registration with its site, on
// stderr.
void print_leaks(const std::string& headline, std::span<const RegistrationInfo> leaked) {
  std::fprintf(stderr, "libpoll: %s\n", headline.c_str());
  for (const RegistrationInfo& registration : leaked) {
    std::fprintf(stderr, "  %s\n", to_string(registration).c_str());
  }
}

// The file of `info` in the kernel's list, sorted by number and token: the one registration
// there under both, or, where a closed file lives on beside the number's new one, the file the
// number names now.
std::optional<FileIdentity> listed_file(std::span<const KernelRegistration> kernel,
                                        const RegistrationInfo& info) {
  const auto key = [](const KernelRegistration& k) { return std::tuple(k.target_fd, k.data); };
  const auto wanted = std::tuple(info.fd, static_cast<std::uint64_t>(info.token.value));
  const auto first = std::lower_bound(
      kernel.begin(), kernel.end(), wanted,
      [&](const KernelRegistration& k, const auto& value) { return key(k) < value; });
  auto last = first;
  while (last != kernel.end() && key(*last) == wanted) ++last;
  std::optional<FileIdentity> now;
  if (last - first > 1) now = identity_now(info.fd);
  for (auto at = first; at != last; ++at) {
    if (!at->inode || !at->device) continue;
    const FileIdentity file{*at->device, *at->inode};
    if (last - first == 1 || file == now) return file;
  }
  return std::nullopt;
}

}  // namespace

RegistrationInfo PollState::info_of(int fd, const BookEntry& entry) const {
  return RegistrationInfo{.fd = fd,
                          .token = entry.token,
                          .interest = entry.interest,
                          .file = entry.file,
                          .site = entry.site};
}

std::vector<RegistrationInfo> PollState::registrations() const {
  std::vector<RegistrationInfo> list;
  for_each_owned([&](int fd, FdSlot& slot) {
    try {
      if (!slot.entry.own) list.push_back(info_of(fd, slot.entry));
    } catch (...) {
      slot.unlock(id_);
      throw;
    }
    slot.unlock(id_);
  });
  attach_files(list);
  return list;
}

void PollState::attach_files(std::vector<RegistrationInfo>& list) const {
  std::vector<KernelRegistration> kernel;
  bool read = false;
  for (RegistrationInfo& info : list) {
    info.file = selector_->file_of(info.fd);
    if (info.file) continue;
    if (!read) {
      // Read once, for every registration the selector keeps no identity of (all, on epoll).
      read = true;
      if (auto listed = selector_->registrations()) kernel = std::move(*listed);
      std::sort(kernel.begin(), kernel.end(), [](const auto& a, const auto& b) {
        return std::tuple(a.target_fd, a.data) < std::tuple(b.target_fd, b.data);
      });
    }
    info.file = listed_file(kernel, info);
  }
}

void PollState::book_records(std::span<const std::pair<int, std::uint64_t>> held,
                             std::vector<BookRecord>& live,
                             std::vector<BookRecord>& retired) const {
  const auto held_by_caller = [held](int fd) {
    return std::binary_search(held.begin(), held.end(), std::pair{fd, std::uint64_t{0}},
                              [](const auto& a, const auto& b) { return a.first < b.first; });
  };
  const auto add_live = [&live](int fd, const BookEntry& entry) {
    live.push_back({fd, entry.token, entry.interest, entry.site, entry.own});
  };
  for_each_owned(
      [&](int fd, FdSlot& slot) {
        const BookEntry entry = slot.entry;
        slot.unlock(id_);
        add_live(fd, entry);
      },
      held_by_caller);
  for (const auto& [fd, owner] : held) {
    if (owner == id_) add_live(fd, existing_slot_of(fd)->entry);
  }
  std::lock_guard lock(retired_mutex_);
  for (const Retired& gone : retired_) {
    retired.push_back({gone.fd, gone.entry.token, gone.entry.interest, gone.entry.site,
                       gone.entry.own, gone.reason, gone.entry.file});
  }
}

Result<AuditReport> PollState::audit_once(
    std::span<const std::pair<int, std::uint64_t>> held) const {
  std::vector<BookRecord> live;
  std::vector<BookRecord> retired;
  book_records(held, live, retired);
  auto kernel = selector_->registrations();
  if (!kernel) return Unexpected(kernel.error());
  return audit_registrations(*selector_, live, retired, *kernel);
}

Result<AuditReport> PollState::audit() const {
  auto first = audit_once({});
  if (!first || first->clean()) return first;
  return confirm(*first);
}

Result<AuditReport> PollState::confirm(const AuditReport& first) const {
  std::vector<int> numbers;
  for (const Discrepancy& found : first.discrepancies) numbers.push_back(found.fd);
  std::sort(numbers.begin(), numbers.end());
  numbers.erase(std::unique(numbers.begin(), numbers.end()), numbers.end());
  // In ascending order, as every audit takes them; a registry call holds one bit at a time.
  std::vector<std::pair<int, std::uint64_t>> held;
  held.reserve(numbers.size());
  for (int fd : numbers) {
    if (FdSlot* slot = fd >= 0 ? slot_of(fd) : nullptr; slot != nullptr) {
      held.emplace_back(fd, slot->lock());
    }
  }
  const auto release = [&held] {
    for (const auto& [fd, owner] : held) existing_slot_of(fd)->unlock(owner);
  };
  Result<AuditReport> second = AuditReport{};
  try {
    second = audit_once(held);
  } catch (...) {
    release();  // out of memory: the bits must not stay held
    throw;
  }
  release();
  if (!second) return second;
  const auto raced = [&held](const Discrepancy& found) {
    return !std::binary_search(held.begin(), held.end(), std::pair{found.fd, std::uint64_t{0}},
                               [](const auto& a, const auto& b) { return a.first < b.first; });
  };
  std::erase_if(second->discrepancies, raced);
  return second;
}

std::vector<RegistrationInfo> PollState::lost_registrations() const {
  std::vector<RegistrationInfo> lost;
  std::lock_guard lock(retired_mutex_);
  for (const Retired& gone : retired_) {
    if (gone.reason == Retirement::lost && !gone.entry.own)
      lost.push_back(info_of(gone.fd, gone.entry));
  }
  return lost;
}

void PollState::set_leak_handler(std::optional<LeakHandler> handler) {
  std::lock_guard lock(handler_mutex_);
  leak_handler_ = std::move(handler);
}

void PollState::report_lost(const RegistrationInfo& lost) noexcept {
  try {
    std::optional<LeakHandler> handler;
    {
      std::lock_guard lock(handler_mutex_);
      handler = leak_handler_;
    }
    const std::span<const RegistrationInfo> one(&lost, 1);
    if (!handler) {
      print_leaks(
          "registration lost: its descriptor was closed before deregister, and the "
          "number registered again:",
          one);
    } else if (*handler) {
      (*handler)(one);
    }
  } catch (...) {
    // Called from noexcept registry paths: a handler that throws loses its report.
  }
}

void PollState::report_leaks() noexcept {
  try {
    std::optional<LeakHandler> handler;
    {
      std::lock_guard lock(handler_mutex_);
      handler = leak_handler_;
    }
    if (handler && !*handler) return;
    // The live registrations, then those a registry call found closed (a failed deregister)
    // and no later register of the number reported: never deregistered either.
    auto leaked = registrations();
    const std::size_t live = leaked.size();
    const auto lost = lost_registrations();
    leaked.insert(leaked.end(), lost.begin(), lost.end());
    if (leaked.empty()) return;
    if (handler) {
      (*handler)(leaked);
      return;
    }
    std::string headline = "Poll destroyed with " + std::to_string(live) + " live registration(s)";
    if (!lost.empty()) {
      headline += " and " + std::to_string(lost.size()) + " whose descriptor was closed first";
    }
    print_leaks(headline + "; deregister sources before dropping them:", leaked);
  } catch (...) {
    // A destructor must not throw; a handler that does loses its report.
  }
}

PollMetrics PollState::metrics() const noexcept {
  const auto load = [](const std::atomic<std::uint64_t>& counter) {
    return counter.load(std::memory_order_relaxed);
  };
  PollMetrics metrics;
  metrics.polls = load(polls_);
  metrics.events = load(events_);
  metrics.ghost_events = load(ghost_events_);
  // The calls counted back first: each one's count is then in the totals read after it.
  const auto refused_registers = refused_registers_.load(std::memory_order_acquire);
  const auto refused_reregisters = refused_reregisters_.load(std::memory_order_acquire);
  metrics.registers = counts_.total(kRegisters) - refused_registers;
  metrics.reregisters = counts_.total(kReregisters) - refused_reregisters;
  metrics.deregisters = counts_.total(kDeregisters);
  metrics.failed_operations = load(failed_operations_);
  metrics.guard_failures = load(guard_failures_);
  metrics.stale_registrations = load(stale_registrations_);
  const sys::ChangeCounts changes = selector_->change_counts();
  metrics.kernel_changes = changes.made;
  metrics.skipped_changes = changes.skipped;
  metrics.late_change_failures = changes.late_failures;
  metrics.received_ahead = changes.received;
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
