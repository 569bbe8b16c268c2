#include "audit_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <filesystem>

#include "sys/open_file.hpp"

namespace libpoll::detail {

namespace {

using Registrations = std::vector<const KernelRegistration*>;

// The members of one inode group whose number still names that inode, ordered by open file
// through kcmp; empty when kcmp cannot answer.
std::optional<Registrations> order_by_open_file(const Registrations& group,
                                                std::size_t& comparisons) {
  Registrations named;
  for (const KernelRegistration* kernel : group) {
    const auto now = identity_now(kernel->target_fd);
    if (now && now->device == *kernel->device && now->inode == *kernel->inode) {
      named.push_back(kernel);
    }
  }
  if (named.size() >= 2 && !sys::compare_open_files(named[0]->target_fd, named[1]->target_fd)) {
    return std::nullopt;
  }
  std::sort(named.begin(), named.end(),
            [&comparisons](const KernelRegistration* a, const KernelRegistration* b) {
              ++comparisons;
              const auto order = sys::compare_open_files(a->target_fd, b->target_fd);
              return order ? *order < 0 : a->target_fd < b->target_fd;  // closed meanwhile
            });
  return named;
}

bool same_open_file(const KernelRegistration* a, const KernelRegistration* b) {
  return sys::compare_open_files(a->target_fd, b->target_fd) == 0;
}

// Without kcmp: the members whose number still names their inode, by access mode; the
// anonymous inode is left out, as every eventfd, timerfd and signalfd shares it.
Registrations order_by_access_mode(const Registrations& group, std::vector<int>& modes) {
  Registrations named;
  for (const KernelRegistration* kernel : group) {
    const auto now = identity_now(kernel->target_fd);
    if (!now || now->device != *kernel->device || now->inode != *kernel->inode) continue;
    if (sys::is_anonymous_inode(kernel->target_fd)) continue;
    named.push_back(kernel);
  }
  modes.clear();
  for (const KernelRegistration* kernel : named) {
    modes.push_back(::fcntl(kernel->target_fd, F_GETFL) & O_ACCMODE);
  }
  std::vector<std::size_t> order(named.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&modes](std::size_t a, std::size_t b) { return modes[a] < modes[b]; });
  Registrations sorted;
  std::vector<int> sorted_modes;
  for (std::size_t i : order) {
    sorted.push_back(named[i]);
    sorted_modes.push_back(modes[i]);
  }
  modes = std::move(sorted_modes);
  return sorted;
}

// Appends every member of a run of equal neighbours in `sorted`.
template <class Equal>
void append_runs(const Registrations& sorted, Equal equal, Registrations& out) {
  for (std::size_t begin = 0; begin < sorted.size();) {
    std::size_t end = begin + 1;
    while (end < sorted.size() && equal(begin, end)) ++end;
    if (end - begin > 1) out.insert(out.end(), sorted.begin() + begin, sorted.begin() + end);
    begin = end;
  }
}

}  // namespace

std::optional<FileIdentity> identity_now(int fd) {
  struct stat status {};
  if (::fstat(fd, &status) != 0) return std::nullopt;
  return FileIdentity{static_cast<std::uint64_t>(status.st_dev),
                      static_cast<std::uint64_t>(status.st_ino)};
}

std::optional<Interest> interest_of(std::uint32_t mask) {
  std::optional<Interest> interest;
  const auto add = [&interest](Interest kind) { interest = interest ? *interest | kind : kind; };
  if ((mask & readiness::in) != 0) add(Interest::readable);
  if ((mask & readiness::out) != 0) add(Interest::writable);
  if ((mask & readiness::pri) != 0) add(Interest::priority);
  return interest;
}

std::string mask_to_string(std::uint32_t mask) {
  // epoll's flag bits (EPOLLEXCLUSIVE, EPOLLWAKEUP, EPOLLONESHOT, EPOLLET), spelled out so that
  // this file needs no epoll header; poll(2) masks never carry them.
  static constexpr std::pair<std::uint32_t, const char*> kNames[] = {
      {readiness::in, "IN"},   {readiness::pri, "PRI"}, {readiness::out, "OUT"},
      {readiness::err, "ERR"}, {readiness::hup, "HUP"}, {readiness::rdhup, "RDHUP"},
      {1u << 28, "EXCLUSIVE"}, {1u << 29, "WAKEUP"},    {1u << 30, "ONESHOT"},
      {1u << 31, "ET"}};
  std::string text;
  for (const auto& [bit, name] : kNames) {
    if ((mask & bit) == 0) continue;
    if (!text.empty()) text += '|';
    text += name;
    mask &= ~bit;
  }
  if (mask != 0) {
    std::array<char, 8> hex{};
    const auto end = std::to_chars(hex.data(), hex.data() + hex.size(), mask, 16).ptr;
    text += text.empty() ? "0x" : "|0x";
    text.append(hex.data(), end);
  }
  return text.empty() ? "0" : text;
}

bool OpenFiles::holds(const FileIdentity& file, std::optional<int> access_mode) {
  if (!modes_) {
    modes_.emplace();
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", error)) {
      int fd = -1;
      const auto name = entry.path().filename().string();
      if (std::from_chars(name.data(), name.data() + name.size(), fd).ec != std::errc()) continue;
      const auto now = identity_now(fd);
      if (!now) continue;
      (*modes_)[Key{now->device, now->inode}].push_back(::fcntl(fd, F_GETFL) & O_ACCMODE);
    }
  }
  auto found = modes_->find(Key{file.device, file.inode});
  if (found == modes_->end()) return false;
  return !access_mode ||
         std::find(found->second.begin(), found->second.end(), *access_mode) != found->second.end();
}

std::vector<const KernelRegistration*> registrations_of_one_open_file(
    std::span<const KernelRegistration> held, std::size_t& comparisons) {
  Registrations known;
  for (const KernelRegistration& kernel : held) {
    if (kernel.inode && kernel.device) known.push_back(&kernel);
  }
  const auto inode_key = [](const KernelRegistration* kernel) {
    return std::pair{*kernel->device, *kernel->inode};
  };
  std::sort(known.begin(), known.end(), [&](const auto* a, const auto* b) {
    ++comparisons;
    return inode_key(a) < inode_key(b);
  });
  Registrations duplicated;
  std::vector<int> modes;
  for (std::size_t begin = 0; begin < known.size();) {
    std::size_t end = begin + 1;
    while (end < known.size() && inode_key(known[end]) == inode_key(known[begin])) ++end;
    if (end - begin > 1) {
      const Registrations group(known.begin() + begin, known.begin() + end);
      if (auto ordered = order_by_open_file(group, comparisons)) {
        append_runs(
            *ordered,
            [&](std::size_t a, std::size_t b) {
              return same_open_file((*ordered)[a], (*ordered)[b]);
            },
            duplicated);
      } else {
        const Registrations sorted = order_by_access_mode(group, modes);
        append_runs(
            sorted, [&](std::size_t a, std::size_t b) { return modes[a] == modes[b]; }, duplicated);
      }
    }
    begin = end;
  }
  return duplicated;
}

}  // namespace libpoll::detail
