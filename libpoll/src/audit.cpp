#include "libpoll/audit.hpp"

#include <algorithm>
#include <iterator>
#include <map>
#include <optional>
#include <string>

#include "audit_files.hpp"
#include "audit_join.hpp"
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

// The book's records, sorted once so that each lookup is a binary search: an audit of n
// registrations costs n log n, not n squared.
class RecordIndex {
 public:
  RecordIndex(std::span<const BookRecord> records, std::size_t& comparisons)
      : records_(records), comparisons_(&comparisons), order_(records.size()) {
    for (std::size_t i = 0; i < order_.size(); ++i) order_[i] = i;
    std::sort(order_.begin(), order_.end(),
              [this](std::size_t a, std::size_t b) { return key(a) < key(b); });
  }

  // The latest record of `fd` under `token` (retired records are kept oldest first).
  [[nodiscard]] const BookRecord* find(int fd, Token token) const {
    const Key wanted{fd, token.value, SIZE_MAX};
    auto after = std::upper_bound(order_.begin(), order_.end(), wanted,
                                  [this](const Key& k, std::size_t i) { return k < key(i); });
    if (after == order_.begin()) return nullptr;
    const BookRecord& found = records_[*std::prev(after)];
    return found.fd == fd && found.token == token ? &found : nullptr;
  }

  // Any record of `fd` (the live book has at most one).
  [[nodiscard]] const BookRecord* find(int fd) const {
    const Key wanted{fd, 0, 0};
    auto at = std::lower_bound(order_.begin(), order_.end(), wanted,
                               [this](std::size_t i, const Key& k) { return key(i) < k; });
    return at != order_.end() && records_[*at].fd == fd ? &records_[*at] : nullptr;
  }

  [[nodiscard]] std::size_t index_of(const BookRecord* record) const {
    return static_cast<std::size_t>(record - records_.data());
  }

 private:
  struct Key {
    int fd;
    std::size_t token;
    std::size_t position;
    auto operator<=>(const Key&) const = default;
  };
  [[nodiscard]] Key key(std::size_t i) const {
    ++*comparisons_;
    return Key{records_[i].fd, records_[i].token.value, i};
  }

  std::span<const BookRecord> records_;
  std::size_t* comparisons_;
  std::vector<std::size_t> order_;
};

// io_uring lists a registration whose request never reached the ring, and never will (its
// number lost its file first), with an empty mask: the kernel watches nothing for it.
bool never_submitted(const sys::Selector& selector, const KernelRegistration& kernel) {
  return selector.backend() == Backend::io_uring && kernel.events == 0;
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

// One audit: the book's indexes, what the process has open, and the findings so far.
class Audit {
 public:
  Audit(const sys::Selector& selector, std::span<const BookRecord> live,
        std::span<const BookRecord> retired, AuditCost& cost)
      : selector_(selector),
        live_(live),
        retired_(retired),
        live_index_(live, cost.record_comparisons),
        retired_index_(retired, cost.record_comparisons),
        live_matched_(live.size(), false),
        retired_matched_(retired.size(), false) {}

  void check(const KernelRegistration& kernel);
  void report_unmatched();
  [[nodiscard]] const BookRecord* record_for(const KernelRegistration& kernel) const {
    const Token token{static_cast<std::size_t>(kernel.data)};
    const BookRecord* record = live_index_.find(kernel.target_fd, token);
    return record != nullptr ? record : retired_index_.find(kernel.target_fd, token);
  }

  AuditReport report;
  std::size_t own_matched = 0;

 private:
  void check_closed_or_reused(const KernelRegistration& kernel, const BookRecord* record,
                              bool open_now);
  void check_never_submitted(const KernelRegistration& kernel, const BookRecord* record,
                             bool open_now);
  [[nodiscard]] bool still_open(const KernelRegistration& kernel);
  void check_unknown(const KernelRegistration& kernel, const BookRecord* retired_record);
  void check_drift(const KernelRegistration& kernel, const BookRecord& record);
  [[nodiscard]] Discrepancy unmatched_retired(const BookRecord& record);

  const sys::Selector& selector_;
  std::span<const BookRecord> live_;
  std::span<const BookRecord> retired_;
  RecordIndex live_index_;
  RecordIndex retired_index_;
  std::vector<bool> live_matched_;
  std::vector<bool> retired_matched_;
  OpenFiles open_files_;
};

void Audit::check(const KernelRegistration& kernel) {
  const Token token{static_cast<std::size_t>(kernel.data)};
  const auto now = identity_now(kernel.target_fd);
  // Without an identity in the selector's record (kernels before 4.13) the best available
  // answer is whether the number is open at all. (kcmp's KCMP_EPOLL_TFD could tell an eventfd
  // from another one reusing its number, but each call walks every registration: n squared.)
  const bool same_file = kernel.inode && kernel.device
                             ? now && now->inode == *kernel.inode && now->device == *kernel.device
                             : now.has_value();

  const BookRecord* live_record = live_index_.find(kernel.target_fd, token);
  const BookRecord* retired_record =
      live_record != nullptr ? nullptr : retired_index_.find(kernel.target_fd, token);
  if (live_record != nullptr) {
    live_matched_[live_index_.index_of(live_record)] = true;
    if (live_record->own && !never_submitted(selector_, kernel)) ++own_matched;
  }
  if (retired_record != nullptr) retired_matched_[retired_index_.index_of(retired_record)] = true;
  if (!same_file) {
    check_closed_or_reused(kernel, live_record != nullptr ? live_record : retired_record,
                           now.has_value());
  } else if (live_record == nullptr) {
    check_unknown(kernel, retired_record);
  } else {
    check_drift(kernel, *live_record);
  }
}

void Audit::check_closed_or_reused(const KernelRegistration& kernel, const BookRecord* record,
                                   bool open_now) {
  const Token token{static_cast<std::size_t>(kernel.data)};
  if (never_submitted(selector_, kernel)) {
    check_never_submitted(kernel, record, open_now);
    return;
  }
  if (selector_.backend() == Backend::poll && !open_now && !still_open(kernel)) {
    // poll(2) watches numbers: a closed number whose file is gone is what epoll would have
    // dropped with the file. (One whose file lives on through a dup is a zombie below, as
    // epoll would still hold it.)
    report.discrepancies.push_back(make(DiscrepancyKind::vanished, kernel.target_fd, token, record,
                                        std::nullopt,
                                        "the descriptor was closed without deregister"));
    return;
  }
  // io_uring lists only requests that reached the kernel, and each holds its file open.
  const char* closed =
      selector_.backend() == Backend::io_uring
          ? "the descriptor was closed without deregister; the ring's poll request "
            "keeps the file open"
          : "the descriptor was closed while another descriptor keeps the file open";
  report.discrepancies.push_back(
      make(DiscrepancyKind::zombie, kernel.target_fd, token, record, interest_of(kernel.events),
           open_now ? "the descriptor number now refers to another file" : closed));
}

// A request the ring never received: nothing watches its file. Whether the process still has
// that file open decides, as on poll(2): epoll would still hold it (a zombie) or have dropped
// it with the file (vanished).
void Audit::check_never_submitted(const KernelRegistration& kernel, const BookRecord* record,
                                  bool open_now) {
  const Token token{static_cast<std::size_t>(kernel.data)};
  if (!still_open(kernel)) {
    report.discrepancies.push_back(
        make(DiscrepancyKind::vanished, kernel.target_fd, token, record, std::nullopt,
             "the descriptor was closed without deregister before its request reached the ring"));
    return;
  }
  report.discrepancies.push_back(
      make(DiscrepancyKind::zombie, kernel.target_fd, token, record, std::nullopt,
           std::string(open_now ? "the descriptor number now refers to another file"
                                : "the descriptor was closed") +
               " while another descriptor keeps the file open; its request never reached the "
               "ring, so nothing watches the file"));
}

// Whether a descriptor of this process refers to the registration's file (of its access mode,
// where the selector knows it).
bool Audit::still_open(const KernelRegistration& kernel) {
  return kernel.inode && kernel.device &&
         open_files_.holds(FileIdentity{*kernel.device, *kernel.inode}, kernel.access_mode);
}

void Audit::check_unknown(const KernelRegistration& kernel, const BookRecord* retired_record) {
  // Same number and file, yet no live book entry under this token: either the book holds the
  // fd under another token (drift), or it does not hold it at all (leaked).
  const Token token{static_cast<std::size_t>(kernel.data)};
  const auto kernel_interest = interest_of(kernel.events);
  if (const BookRecord* other = live_index_.find(kernel.target_fd); other != nullptr) {
    live_matched_[live_index_.index_of(other)] = true;
    if (other->own) ++own_matched;
    report.discrepancies.push_back(
        make(DiscrepancyKind::interest_drift, kernel.target_fd, token, other, kernel_interest,
             "the kernel holds token " + std::to_string(token.value) + ", the book token " +
                 std::to_string(other->token.value)));
    return;
  }
  report.discrepancies.push_back(
      make(DiscrepancyKind::leaked, kernel.target_fd, token, retired_record, kernel_interest,
           retired_record != nullptr ? "the book lost it, yet the kernel still delivers it"
                                     : "registered behind the book's back"));
}

void Audit::check_drift(const KernelRegistration& kernel, const BookRecord& record) {
  // The whole mask, not only the readiness kinds: a raw EPOLL_CTL_MOD that drops EPOLLET makes
  // the registration level-triggered, one that drops EPOLLRDHUP hides half-closes.
  const std::uint32_t expected = selector_.mask_for(record.interest);
  const std::uint32_t found = kernel.events & ~kAlwaysReported;
  if (found == expected) return;
  const auto kernel_interest = interest_of(kernel.events);
  report.discrepancies.push_back(
      make(DiscrepancyKind::interest_drift, kernel.target_fd, Token{kernel.data}, &record,
           kernel_interest,
           "the kernel watches " + (kernel_interest ? to_string(*kernel_interest) : "nothing") +
               " (" + mask_to_string(found) + "), the book " + to_string(record.interest) + " (" +
               mask_to_string(expected) + ")"));
}

void Audit::report_unmatched() {
  for (std::size_t i = 0; i < live_.size(); ++i) {
    if (live_matched_[i]) continue;
    report.discrepancies.push_back(make(DiscrepancyKind::vanished, live_[i].fd, live_[i].token,
                                        &live_[i], std::nullopt,
                                        "the kernel dropped it: its file was closed"));
  }
  // A registration this Poll replaced is not reported: the book reported it once, when it
  // replaced it, and the number's new registration stands in the audit.
  for (std::size_t i = 0; i < retired_.size(); ++i) {
    if (retired_matched_[i] || retired_[i].retired == Retirement::replaced) continue;
    report.discrepancies.push_back(unmatched_retired(retired_[i]));
  }
}

// A retired registration the selector no longer lists. Where the backend watches numbers
// (poll(2), io_uring), a number that another Poll registered again is dropped from this one's
// list even while a duplicate keeps the file open, which epoll would still show as a zombie: the
// book's record tells the same story on every backend. (Without the access mode the book did not
// record, a pipe's other end counts as keeping its file open.)
Discrepancy Audit::unmatched_retired(const BookRecord& record) {
  if (record.retired != Retirement::taken) {
    return make(DiscrepancyKind::vanished, record.fd, record.token, &record, std::nullopt,
                "closed without deregister; the number was then reused");
  }
  if (record.file && open_files_.holds(*record.file, std::nullopt)) {
    return make(DiscrepancyKind::zombie, record.fd, record.token, &record, std::nullopt,
                "the descriptor was closed while another descriptor keeps the file open; "
                "another Poll registered the number again");
  }
  return make(DiscrepancyKind::vanished, record.fd, record.token, &record, std::nullopt,
              "closed without deregister; another Poll registered the number again");
}

}  // namespace

AuditReport audit_registrations(const sys::Selector& selector, std::span<const BookRecord> live,
                                std::span<const BookRecord> retired,
                                std::span<const KernelRegistration> held, AuditCost* cost) {
  AuditCost local_cost;
  AuditCost& spent = cost != nullptr ? *cost : local_cost;
  Audit audit(selector, live, retired, spent);
  audit.report.backend = selector.backend();
  for (const KernelRegistration& kernel : held) audit.check(kernel);
  audit.report_unmatched();
  AuditReport& report = audit.report;
  // What the kernel watches: requests that never reached the ring are no part of it.
  std::vector<KernelRegistration> watched;
  std::copy_if(
      held.begin(), held.end(), std::back_inserter(watched),
      [&](const KernelRegistration& kernel) { return !never_submitted(selector, kernel); });
  // The Poll's own Waker is checked like any registration but counted as none of the user's.
  report.kernel_registrations = watched.size() - audit.own_matched;
  report.book_registrations = static_cast<std::size_t>(
      std::count_if(live.begin(), live.end(), [](const BookRecord& r) { return !r.own; }));

  // Collisions among what the kernel holds: one discrepancy per registration involved.
  std::map<std::uint64_t, std::vector<const KernelRegistration*>> by_token;
  std::map<int, std::vector<const KernelRegistration*>> by_fd;
  for (const KernelRegistration& kernel : watched) {
    by_token[kernel.data].push_back(&kernel);
    by_fd[kernel.target_fd].push_back(&kernel);
  }
  for (const auto& [token, group] : by_token) {
    if (group.size() < 2) continue;
    for (const KernelRegistration* kernel : group) {
      report.discrepancies.push_back(make(
          DiscrepancyKind::token_collision, kernel->target_fd, Token{kernel->data},
          audit.record_for(*kernel), interest_of(kernel->events),
          std::to_string(group.size()) + " registrations carry token " + std::to_string(token)));
    }
  }
  std::vector<const KernelRegistration*> duplicated =
      registrations_of_one_open_file(watched, spent.file_comparisons);
  for (const auto& [fd, group] : by_fd) {
    if (group.size() > 1) duplicated.insert(duplicated.end(), group.begin(), group.end());
  }
  std::sort(duplicated.begin(), duplicated.end());
  duplicated.erase(std::unique(duplicated.begin(), duplicated.end()), duplicated.end());
  for (const KernelRegistration* kernel : duplicated) {
    const bool same_number = by_fd[kernel->target_fd].size() > 1;
    report.discrepancies.push_back(
        make(DiscrepancyKind::duplicate_target, kernel->target_fd, Token{kernel->data},
             audit.record_for(*kernel), interest_of(kernel->events),
             same_number ? "another registration targets the same descriptor number"
                         : "another registration targets the same open file"));
  }
  return report;
}

}  // namespace detail

}  // namespace libpoll
