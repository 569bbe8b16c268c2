#include "inspect/classify.hpp"

#include <sys/epoll.h>
#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "inspect/file_identity.hpp"

namespace pollscope {

namespace {

// How many times a suspect is read again, and how many of those in a row must agree.
constexpr int kRereads = 3;
constexpr int kSteadyReads = 2;

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

// What a registration's number names at this instant: live, closed, other_file, or gone (the
// set holds nothing at that place any more).
struct NumberNow {
  std::string state;
  std::string names_now;
  friend bool operator==(const NumberNow&, const NumberNow&) = default;
};

NumberNow read_number(pid_t pid, const RegistrationView& registration, EpollSetView& view) {
  const auto fd = registration.kernel.target_fd;
  auto names = read_descriptor(pid, fd);
  const auto file = stat_fd(pid, fd);
  if (names.empty() || !file) return {"closed", {}};
  if (registration.kernel.inode && !same_inode(registration.kernel, *file))
    return {"other_file", std::move(names)};
  switch (match_registered_file(pid, fd, pid, view.epoll_fd, fd, registration.occurrence)) {
    case RegistrationMatch::kSame:
      return {"live", std::move(names)};
    case RegistrationMatch::kDifferent:
      return {"other_file", std::move(names)};
    case RegistrationMatch::kNoDescriptor:
      return {"closed", {}};
    case RegistrationMatch::kNoRegistration:
      return {"gone", std::move(names)};
    case RegistrationMatch::kUnknown:
      break;
  }
  view.compared_by_inode = true;
  return {"live", std::move(names)};
}

// The registration in a fresh read of the set: same number, same file (by inode) and token.
const libpoll::KernelRegistration* find_again(const std::vector<libpoll::KernelRegistration>& fresh,
                                              const RegistrationView& registration) {
  const auto& kernel = registration.kernel;
  const auto it = std::find_if(fresh.begin(), fresh.end(), [&](const auto& entry) {
    return entry.target_fd == kernel.target_fd && entry.inode == kernel.inode &&
           entry.device == kernel.device && entry.data == kernel.data;
  });
  return it == fresh.end() ? nullptr : &*it;
}

struct Suspect {
  RegistrationView* registration;
  NumberNow before;
  int steady = 0;  // reads in a row that agreed
};

// One re-read of a suspect: its number before (`suspect.before`) and after the fresh fdinfo.
// True when the suspect is decided: a zombie held steady, or cleared (state live or gone).
bool reread(pid_t pid, Suspect& suspect, const std::vector<libpoll::KernelRegistration>* fresh,
            EpollSetView& view) {
  auto& registration = *suspect.registration;
  const auto* again = fresh ? find_again(*fresh, registration) : nullptr;
  auto after = read_number(pid, registration, view);
  if (!again || suspect.before.state == "gone" || after.state == "gone") {
    registration.state = "gone";
    return true;
  }
  if (suspect.before.state == "live" || after.state == "live") {
    registration.state = "live";
    registration.names_now = std::move(after.names_now);
    return true;
  }
  suspect.steady = suspect.before == after ? suspect.steady + 1 : 0;
  registration.kernel.events = again->events;  // an EPOLLONESHOT registration may have fired
  registration.state = std::move(after.state);
  registration.names_now = std::move(after.names_now);
  return suspect.steady >= kSteadyReads;
}

// The registrations the first read suspects (the number closed, or naming another file) are
// read again around a fresh fdinfo of the set: a program that adds, deletes and closes while it
// is read makes the two reads disagree for an instant, and a zombie never does.
void confirm_suspects(pid_t pid, EpollSetView& view) {
  std::vector<Suspect> open;
  for (auto& registration : view.registrations)
    if (registration.state != "live") open.push_back({&registration, {}, 0});
  for (int round = 0; round < kRereads && !open.empty(); ++round) {
    for (auto& suspect : open) suspect.before = read_number(pid, *suspect.registration, view);
    const auto fresh = libpoll::read_epoll_fdinfo(pid, view.epoll_fd);
    std::erase_if(open, [&](Suspect& suspect) {
      return reread(pid, suspect, fresh ? &*fresh : nullptr, view);
    });
  }
  for (const auto& suspect : open)
    if (suspect.steady < kSteadyReads) suspect.registration->state = "changing";
  std::erase_if(view.registrations, [](const auto& r) { return r.state == "gone"; });
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
std::optional<std::string> keeper_of(const ProcessFiles& files, const RegistrationView& zombie,
                                     EpollSetView& view) {
  for (const auto& [fd, target] : files.fds) {
    if (fd == zombie.kernel.target_fd) continue;
    if (names_registered_file(files, view.epoll_fd, fd, zombie.kernel, zombie.occurrence, view))
      return fmt::format("fd {} ({}) of this process keeps the file open", fd, target);
  }
  return std::nullopt;
}

// A descriptor of a process sharing the set that is the registered file.
struct Holder {
  pid_t pid = 0;
  int fd = -1;
  std::string names;
};

// Read once per set, and only when a registration's file is held by no descriptor of the
// process: listing every process's descriptors is the slow part of an inspection.
struct Sharers {
  std::optional<std::vector<ProcessFiles>> processes;
};

std::optional<Holder> holder_among(Sharers& sharers, const EpollSetView& view,
                                   const RegistrationView& registration) {
  if (!sharers.processes) sharers.processes = processes_sharing(view.pid, view.epoll_fd);
  const auto& kernel = registration.kernel;
  std::optional<Holder> holder;
  for (const auto& other : *sharers.processes) {
    for (const auto& [fd, names] : other.fds) {
      const auto match = match_registered_file(other.pid, fd, view.pid, view.epoll_fd,
                                               kernel.target_fd, registration.occurrence);
      if (match != RegistrationMatch::kSame) continue;
      if (fd == kernel.target_fd) return Holder{other.pid, fd, names};  // live there
      if (!holder) holder = Holder{other.pid, fd, names};
    }
  }
  return holder;
}

std::string nobody_here(const Sharers& sharers) {
  if (!sharers.processes || sharers.processes->empty())
    return "no descriptor of this process holds the file: another process does (a forked child?)";
  std::vector<pid_t> pids;
  for (const auto& other : *sharers.processes) pids.push_back(other.pid);
  return fmt::format(
      "no descriptor of this process, nor of the processes sharing this set ({}), holds the "
      "file: another process does (a forked child that closed its copy of the set?)",
      fmt::join(pids, ", "));
}

// Once an EPOLLONESHOT registration fires, the kernel clears its events and keeps only its flags
// (EP_PRIVATE_BITS in fs/eventpoll.c); only EPOLL_CTL_MOD re-arms it, and that finds a
// registration by its number and file, which a zombie's number no longer names.
bool disarmed_oneshot(std::uint32_t events) {
  constexpr std::uint32_t kFlags = EPOLLONESHOT | EPOLLET | EPOLLWAKEUP | EPOLLEXCLUSIVE;
  return (events & EPOLLONESHOT) != 0 && (events & ~kFlags) == 0;
}

std::string zombie_detail(const RegistrationView& registration, const std::string& keeper) {
  const auto fd = registration.kernel.target_fd;
  const auto token = registration.kernel.data;
  const auto what =
      registration.state == "closed"
          ? fmt::format("fd {} is closed", fd)
          : fmt::format("fd {} now names another file ({})", fd, registration.names_now);
  const auto events =
      disarmed_oneshot(registration.kernel.events)
          ? fmt::format(
                "it is an EPOLLONESHOT registration that fired and is disarmed, so no event can "
                "arrive under token {}, but the kernel keeps it as long as the file is open",
                token)
          : fmt::format("its events still arrive under token {}", token);
  return fmt::format("{} but its registration lives on: {}; {}", what, keeper, events);
}

// A confirmed suspect: a zombie kept by this process or by one sharing the set under another
// number, or a registration live in a process that shares the set.
void classify_zombie(const ProcessFiles& files, RegistrationView& registration, Sharers& sharers,
                     EpollSetView& view, std::vector<Finding>& findings) {
  auto keeper = keeper_of(files, registration, view);
  if (!keeper) {
    if (const auto holder = holder_among(sharers, view, registration)) {
      if (holder->fd == registration.kernel.target_fd) {
        registration.state = "live_elsewhere";
        registration.live_in = holder->pid;
        return;
      }
      keeper = fmt::format("fd {} ({}) of process {}, which shares this set, keeps the file open",
                           holder->fd, holder->names, holder->pid);
    }
  }
  findings.push_back(
      finding_for(view, registration, "zombie", Severity::kError,
                  zombie_detail(registration, keeper.value_or(nobody_here(sharers)))));
}

// Two live registrations of one open file: the same inode, and kcmp agrees (without kcmp, only
// for kinds of file whose inodes are not shared). The first number is asked, at this instant,
// whether it is both registrations' file; it is asked twice about its own, around the other, so
// that a number the program changes meanwhile is not taken for a dup.
bool same_open_file(const ProcessFiles& files, const RegistrationView& first,
                    const RegistrationView& second, EpollSetView& view) {
  if (first.kernel.inode != second.kernel.inode) return false;
  const auto is_file_of = [&](const RegistrationView& registration) {
    return match_registered_file(files.pid, first.kernel.target_fd, files.pid, view.epoll_fd,
                                 registration.kernel.target_fd, registration.occurrence);
  };
  const RegistrationMatch answers[] = {is_file_of(first), is_file_of(second), is_file_of(first)};
  if (std::find(std::begin(answers), std::end(answers), RegistrationMatch::kUnknown) ==
      std::end(answers)) {
    return std::all_of(std::begin(answers), std::end(answers),
                       [](auto answer) { return answer == RegistrationMatch::kSame; });
  }
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

// Each registration as the first read of the descriptor table shows it.
void first_read(const ProcessFiles& files, const std::vector<libpoll::KernelRegistration>& kernel,
                EpollSetView& view) {
  std::map<int, unsigned> occurrences;
  for (const auto& entry : kernel) {
    RegistrationView registration{entry, {}, "closed", occurrences[entry.target_fd]++, 0};
    if (const auto it = files.fds.find(entry.target_fd); it != files.fds.end()) {
      registration.names_now = it->second;
      registration.state = names_registered_file(files, view.epoll_fd, entry.target_fd, entry,
                                                 registration.occurrence, view)
                               ? "live"
                               : "other_file";
    }
    view.registrations.push_back(std::move(registration));
  }
}

}  // namespace

EpollSetView classify_epoll_set(const ProcessFiles& files, int epoll_fd,
                                const std::vector<libpoll::KernelRegistration>& kernel,
                                std::vector<Finding>& findings) {
  EpollSetView view{files.pid, epoll_fd, {}, false};
  first_read(files, kernel, view);
  confirm_suspects(files.pid, view);
  Sharers sharers;
  for (auto& registration : view.registrations) {
    if (registration.state == "closed" || registration.state == "other_file")
      classify_zombie(files, registration, sharers, view, findings);
  }
  find_duplicates(files, view, findings);
  find_token_collisions(view, findings);
  return view;
}

}  // namespace pollscope
