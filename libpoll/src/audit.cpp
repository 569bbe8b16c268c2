#include "libpoll/audit.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "audit_join.hpp"
#include "libpoll/detail/readiness.hpp"
#include "libpoll/registration_info.hpp"

namespace libpoll {

std::string_view to_string(DiscrepancyKind kind) noexcept {
  switch (kind) {
    case DiscrepancyKind::leaked:
      return "leaked";
    case DiscrepancyKind::vanished:
      return "vanished";
    case DiscrepancyKind::zombie:
      return "zombie";
    case DiscrepancyKind::interest_drift:
      return "interest_drift";
    case DiscrepancyKind::token_collision:
      return "token_collision";
    case DiscrepancyKind::duplicate_target:
      return "duplicate_target";
  }
  return "unknown";
}

std::size_t AuditReport::count(DiscrepancyKind kind) const noexcept {
  return static_cast<std::size_t>(
      std::count_if(discrepancies.begin(), discrepancies.end(),
                    [kind](const Discrepancy& found) { return found.kind == kind; }));
}

std::string to_string(const Discrepancy& discrepancy) {
  std::string text(to_string(discrepancy.kind));
  text += ": fd " + std::to_string(discrepancy.fd) + ", token " +
          std::to_string(discrepancy.token.value);
  if (discrepancy.interest) text += ", " + to_string(*discrepancy.interest);
  if (discrepancy.site) text += " (registered at " + to_string(*discrepancy.site) + ")";
  if (!discrepancy.detail.empty()) text += ": " + discrepancy.detail;
  return text;
}

namespace detail {

namespace {

std::optional<FileIdentity> identity_now(int fd) {
  struct stat status {};
  if (::fstat(fd, &status) != 0) return std::nullopt;
  return FileIdentity{static_cast<std::uint64_t>(status.st_dev),
                      static_cast<std::uint64_t>(status.st_ino)};
}

// The readiness kinds of a kernel mask; epoll's and poll(2)'s bits agree for these three.
std::optional<Interest> interest_of(std::uint32_t mask) {
  std::optional<Interest> interest;
  const auto add = [&interest](Interest kind) { interest = interest ? *interest | kind : kind; };
  if ((mask & readiness::in) != 0) add(Interest::readable);
  if ((mask & readiness::out) != 0) add(Interest::writable);
  if ((mask & readiness::pri) != 0) add(Interest::priority);
  return interest;
}

// Whether any open descriptor of this process refers to `file` (opened with `access_mode`, when
// known): what keeps an epoll registration alive after its own descriptor is closed. The access
// mode keeps a pipe's write end from standing in for its read end: they share an inode.
bool file_is_open_elsewhere(const FileIdentity& file, std::optional<int> access_mode) {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", error)) {
    int fd = -1;
    const auto name = entry.path().filename().string();
    if (std::from_chars(name.data(), name.data() + name.size(), fd).ec != std::errc()) continue;
    const auto now = identity_now(fd);
    if (!now || *now != file) continue;
    if (!access_mode || (::fcntl(fd, F_GETFL) & O_ACCMODE) == *access_mode) return true;
  }
  return false;
}

const BookRecord* find_record(std::span<const BookRecord> records, int fd, Token token) {
  // The latest record wins: retired records are kept oldest first.
  for (auto it = records.rbegin(); it != records.rend(); ++it) {
    if (it->fd == fd && it->token == token) return &*it;
  }
  return nullptr;
}

Discrepancy make(DiscrepancyKind kind, int fd, Token token, const BookRecord* record,
                 std::optional<Interest> kernel_interest, std::string detail) {
  Discrepancy found{.kind = kind,
                    .fd = fd,
                    .token = token,
                    .interest = std::nullopt,
                    .kernel_interest = kernel_interest,
                    .site = std::nullopt,
                    .detail = std::move(detail)};
  if (record != nullptr) {
    found.interest = record->interest;
    found.site = record->site;
  }
  return found;
}

}  // namespace

AuditReport audit_registrations(Backend backend, std::span<const BookRecord> live,
                                std::span<const BookRecord> retired,
                                std::span<const KernelRegistration> held) {
  AuditReport report;
  report.backend = backend;
  report.kernel_registrations = held.size();
  report.book_registrations = live.size();

  std::vector<bool> live_matched(live.size(), false);
  std::vector<bool> retired_matched(retired.size(), false);
  const auto index_in = [](std::span<const BookRecord> records, const BookRecord* record) {
    return static_cast<std::size_t>(record - records.data());
  };

  for (const KernelRegistration& kernel : held) {
    const Token token{static_cast<std::size_t>(kernel.data)};
    const auto kernel_interest = interest_of(kernel.events);
    const auto now = identity_now(kernel.target_fd);
    // Without an identity in the selector's record (kernels before 4.13) the best available
    // answer is whether the number is open at all.
    const bool same_file = kernel.inode && kernel.device
                               ? now && now->inode == *kernel.inode && now->device == *kernel.device
                               : now.has_value();

    const BookRecord* live_record = find_record(live, kernel.target_fd, token);
    const BookRecord* retired_record = find_record(retired, kernel.target_fd, token);
    const BookRecord* record = live_record != nullptr ? live_record : retired_record;
    if (live_record != nullptr) live_matched[index_in(live, live_record)] = true;
    if (live_record == nullptr && retired_record != nullptr) {
      retired_matched[index_in(retired, retired_record)] = true;
    }

    if (!same_file) {
      if (backend == Backend::poll && !now &&
          !(kernel.inode && kernel.device &&
            file_is_open_elsewhere(FileIdentity{*kernel.device, *kernel.inode},
                                   kernel.access_mode))) {
        // poll(2) watches numbers: a closed number whose file is gone is what epoll would have
        // dropped with the file. (One whose file lives on through a dup is a zombie below, as
        // epoll would still hold it.)
        report.discrepancies.push_back(make(DiscrepancyKind::vanished, kernel.target_fd, token,
                                            record, std::nullopt,
                                            "the descriptor was closed without deregister"));
      } else {
        report.discrepancies.push_back(
            make(DiscrepancyKind::zombie, kernel.target_fd, token, record, kernel_interest,
                 now ? "the descriptor number now refers to another file"
                     : "the descriptor was closed while another descriptor keeps the file open"));
      }
      continue;
    }
    if (live_record == nullptr) {
      // Same number and file, yet no live book entry under this token: either the book holds the
      // fd under another token (drift), or it does not hold it at all (leaked).
      const auto other = std::find_if(live.begin(), live.end(), [&](const BookRecord& entry) {
        return entry.fd == kernel.target_fd;
      });
      if (other != live.end()) {
        live_matched[static_cast<std::size_t>(other - live.begin())] = true;
        report.discrepancies.push_back(
            make(DiscrepancyKind::interest_drift, kernel.target_fd, token, &*other, kernel_interest,
                 "the kernel holds token " + std::to_string(token.value) + ", the book token " +
                     std::to_string(other->token.value)));
        continue;
      }
      report.discrepancies.push_back(
          make(DiscrepancyKind::leaked, kernel.target_fd, token, record, kernel_interest,
               retired_record != nullptr ? "the book lost it, yet the kernel still delivers it"
                                         : "registered behind the book's back"));
      continue;
    }
    if (kernel_interest != std::optional<Interest>(live_record->interest)) {
      report.discrepancies.push_back(make(
          DiscrepancyKind::interest_drift, kernel.target_fd, token, live_record, kernel_interest,
          "the kernel watches " + (kernel_interest ? to_string(*kernel_interest) : "nothing") +
              ", the book " + to_string(live_record->interest)));
    }
  }

  for (std::size_t i = 0; i < live.size(); ++i) {
    if (live_matched[i]) continue;
    report.discrepancies.push_back(make(DiscrepancyKind::vanished, live[i].fd, live[i].token,
                                        &live[i], std::nullopt,
                                        "the kernel dropped it: its file was closed"));
  }
  for (std::size_t i = 0; i < retired.size(); ++i) {
    if (retired_matched[i]) continue;
    report.discrepancies.push_back(make(DiscrepancyKind::vanished, retired[i].fd, retired[i].token,
                                        &retired[i], std::nullopt,
                                        "closed without deregister; the number was then reused"));
  }

  // Collisions among what the kernel holds: one discrepancy per registration involved.
  std::map<std::uint64_t, std::vector<const KernelRegistration*>> by_token;
  std::map<int, std::vector<const KernelRegistration*>> by_fd;
  std::map<std::pair<std::uint64_t, std::uint64_t>, std::vector<const KernelRegistration*>> by_file;
  for (const KernelRegistration& kernel : held) {
    by_token[kernel.data].push_back(&kernel);
    by_fd[kernel.target_fd].push_back(&kernel);
    if (kernel.inode && kernel.device) by_file[{*kernel.device, *kernel.inode}].push_back(&kernel);
  }
  const auto record_for = [&](const KernelRegistration& kernel) {
    const Token token{static_cast<std::size_t>(kernel.data)};
    const BookRecord* record = find_record(live, kernel.target_fd, token);
    return record != nullptr ? record : find_record(retired, kernel.target_fd, token);
  };
  for (const auto& [token, group] : by_token) {
    if (group.size() < 2) continue;
    for (const KernelRegistration* kernel : group) {
      report.discrepancies.push_back(make(
          DiscrepancyKind::token_collision, kernel->target_fd, Token{kernel->data},
          record_for(*kernel), interest_of(kernel->events),
          std::to_string(group.size()) + " registrations carry token " + std::to_string(token)));
    }
  }
  std::vector<const KernelRegistration*> duplicated;
  for (const auto& [fd, group] : by_fd) {
    if (group.size() > 1) duplicated.insert(duplicated.end(), group.begin(), group.end());
  }
  for (const auto& [file, group] : by_file) {
    if (group.size() > 1) duplicated.insert(duplicated.end(), group.begin(), group.end());
  }
  std::sort(duplicated.begin(), duplicated.end());
  duplicated.erase(std::unique(duplicated.begin(), duplicated.end()), duplicated.end());
  for (const KernelRegistration* kernel : duplicated) {
    const bool same_number = by_fd[kernel->target_fd].size() > 1;
    report.discrepancies.push_back(
        make(DiscrepancyKind::duplicate_target, kernel->target_fd, Token{kernel->data},
             record_for(*kernel), interest_of(kernel->events),
             same_number ? "another registration targets the same descriptor number"
                         : "another registration targets the same open file"));
  }
  return report;
}

}  // namespace detail

}  // namespace libpoll
