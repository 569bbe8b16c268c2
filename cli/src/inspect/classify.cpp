#include "inspect/classify.hpp"

#include <sys/stat.h>

#include <map>
#include <optional>

#include <fmt/format.h>

#include "inspect/file_identity.hpp"

namespace pollscope {

namespace {

struct FileStat {
  std::uint64_t inode = 0;
  std::uint64_t device = 0;
};

std::optional<FileStat> stat_fd(pid_t pid, int fd) {
  struct stat status {};
  if (::stat(fmt::format("/proc/{}/fd/{}", pid, fd).c_str(), &status) != 0) return std::nullopt;
  return FileStat{status.st_ino, status.st_dev};
}

bool same_inode(const libpoll::KernelRegistration& kernel, const FileStat& file) {
  return kernel.inode == file.inode && (!kernel.device || *kernel.device == file.device);
}

// Whether `fd` names the file registered as `kernel` (the `occurrence`-th registration of its
// number): kcmp when allowed, else the inode fallback.
bool names_registered_file(const ProcessFiles& files, int epoll_fd, int fd,
                           const libpoll::KernelRegistration& kernel, unsigned occurrence,
                           EpollSetView& view) {
  const auto file = stat_fd(files.pid, fd);
  if (!file) return false;
  if (kernel.inode && !same_inode(kernel, *file)) return false;
  if (const auto same = is_registered_file(files.pid, fd, epoll_fd, kernel.target_fd, occurrence))
    return *same;
  view.compared_by_inode = true;
  return true;
}

Finding finding_for(const EpollSetView& view, const RegistrationView& registration,
                    const char* kind, Severity severity, std::string detail) {
  Finding finding;
  finding.kind = kind;
  finding.severity = severity;
  finding.pid = view.pid;
  finding.epoll_fd = view.epoll_fd;
  finding.fd = registration.kernel.target_fd;
  finding.token = registration.kernel.data;
  finding.interest = epoll_events_text(registration.kernel.events);
  finding.detail = std::move(detail);
  return finding;
}

// Which other descriptor of the process keeps a zombie's file open, if one does.
std::string keeper_of(const ProcessFiles& files, const RegistrationView& zombie,
                      unsigned occurrence, EpollSetView& view) {
  for (const auto& [fd, target] : files.fds) {
    if (fd == zombie.kernel.target_fd && zombie.state == "other_file") continue;
    if (names_registered_file(files, view.epoll_fd, fd, zombie.kernel, occurrence, view))
      return fmt::format("fd {} ({}) of this process keeps the file open", fd, target);
  }
  return "no descriptor of this process holds the file: another process does (a forked child?)";
}

void classify_zombie(const ProcessFiles& files, RegistrationView& registration, unsigned occurrence,
                     EpollSetView& view, std::vector<Finding>& findings) {
  const auto keeper = keeper_of(files, registration, occurrence, view);
  const auto fd = registration.kernel.target_fd;
  const auto what =
      registration.state == "closed"
          ? fmt::format("fd {} is closed", fd)
          : fmt::format("fd {} now names another file ({})", fd, registration.names_now);
  findings.push_back(finding_for(
      view, registration, "zombie", Severity::kError,
      fmt::format("{} but its registration lives on: {}; its events still arrive under token {}",
                  what, keeper, registration.kernel.data)));
}

// Two live registrations of one open file: the same inode, and kcmp agrees (without kcmp, only
// for kinds of file whose inodes are not shared).
bool same_open_file(const ProcessFiles& files, const RegistrationView& first,
                    const RegistrationView& second, EpollSetView& view) {
  if (first.kernel.inode != second.kernel.inode) return false;
  if (const auto same = is_same_file(files.pid, first.kernel.target_fd, second.kernel.target_fd))
    return *same;
  view.compared_by_inode = true;
  return !shares_inodes(first.names_now);
}

void find_duplicates(const ProcessFiles& files, EpollSetView& view,
                     std::vector<Finding>& findings) {
  auto& all = view.registrations;
  for (std::size_t i = 0; i < all.size(); ++i) {
    for (std::size_t j = i + 1; j < all.size(); ++j) {
      if (all[i].state != "live" || all[j].state != "live") continue;
      if (!same_open_file(files, all[i], all[j], view)) continue;
      findings.push_back(finding_for(
          view, all[j], "duplicate_target", Severity::kWarning,
          fmt::format("fd {} and fd {} are one open file (a dup, or inherited), registered twice",
                      all[i].kernel.target_fd, all[j].kernel.target_fd)));
    }
  }
}

void find_token_collisions(EpollSetView& view, std::vector<Finding>& findings) {
  std::map<std::uint64_t, int> first_with;
  for (const auto& registration : view.registrations) {
    const auto [it, fresh] =
        first_with.emplace(registration.kernel.data, registration.kernel.target_fd);
    if (fresh) continue;
    findings.push_back(
        finding_for(view, registration, "token_collision", Severity::kError,
                    fmt::format("token {} is also fd {}'s: their events cannot be told apart",
                                registration.kernel.data, it->second)));
  }
}

}  // namespace

EpollSetView classify_epoll_set(const ProcessFiles& files, int epoll_fd,
                                const std::vector<libpoll::KernelRegistration>& kernel,
                                std::vector<Finding>& findings) {
  EpollSetView view{files.pid, epoll_fd, {}, false};
  std::map<int, unsigned> occurrences;
  for (const auto& entry : kernel) {
    RegistrationView registration{entry, {}, "closed"};
    const auto occurrence = occurrences[entry.target_fd]++;
    if (const auto it = files.fds.find(entry.target_fd); it != files.fds.end()) {
      registration.names_now = it->second;
      registration.state =
          names_registered_file(files, epoll_fd, entry.target_fd, entry, occurrence, view)
              ? "live"
              : "other_file";
    }
    if (registration.state != "live")
      classify_zombie(files, registration, occurrence, view, findings);
    view.registrations.push_back(std::move(registration));
  }
  find_duplicates(files, view, findings);
  find_token_collisions(view, findings);
  return view;
}

}  // namespace pollscope
