#include "inspect/classify.hpp"

#include <sys/epoll.h>
#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>

#include "inspect/file_identity.hpp"
#include "inspect/file_index.hpp"

namespace pollscope {

namespace {

// How many times a suspect is read again, and how many of those in a row must agree.
constexpr int kRereads = 3;
constexpr int kSteadyReads = 2;

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

// A fresh read of the set, by number: a set of thousands is searched once per suspect.
using FreshRead = std::unordered_multimap<int, const libpoll::KernelRegistration*>;

FreshRead by_number(const std::vector<libpoll::KernelRegistration>& fresh) {
  FreshRead index;
  index.reserve(fresh.size());
  for (const auto& entry : fresh) index.emplace(entry.target_fd, &entry);
  return index;
}

// The registration in a fresh read of the set: same number, same file (by inode) and token.
const libpoll::KernelRegistration* find_again(const FreshRead& fresh,
                                              const RegistrationView& registration) {
  const auto& kernel = registration.kernel;
  const auto [first, last] = fresh.equal_range(kernel.target_fd);
  const auto it = std::find_if(first, last, [&](const auto& entry) {
    return entry.second->inode == kernel.inode && entry.second->device == kernel.device &&
           entry.second->data == kernel.data;
  });
  return it == last ? nullptr : it->second;
}

struct Suspect {
  RegistrationView* registration;
  NumberNow before;
  int steady = 0;  // reads in a row that agreed
};

// One re-read of a suspect: its number before (`suspect.before`) and after the fresh fdinfo.
// True when the suspect is decided: a zombie held steady, or cleared (state live or gone).
bool reread(pid_t pid, Suspect& suspect, const FreshRead* fresh, EpollSetView& view) {
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
    const auto index = fresh ? by_number(*fresh) : FreshRead{};
    std::erase_if(open, [&](Suspect& suspect) {
      return reread(pid, suspect, fresh ? &index : nullptr, view);
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

// This process's descriptors, indexed once per set when a zombie asks for its keeper.
struct Keepers {
  std::optional<FileIndex> index;
};

// Which other descriptor of the process keeps a zombie's file open, if one does.
std::optional<std::string> keeper_of(const ProcessFiles& files, const RegistrationView& zombie,
                                     Keepers& keepers, EpollSetView& view) {
  if (!keepers.index) {
    std::vector<Holder> holders;
    for (const auto& [fd, target] : files.fds) holders.push_back({files.pid, fd, target});
    keepers.index.emplace(std::move(holders));
  }
  if (const auto holders =
          keepers.index->holding({view.pid, view.epoll_fd, zombie.kernel, zombie.occurrence})) {
    for (const auto& holder : *holders) {
      if (holder.fd == zombie.kernel.target_fd) continue;
      return fmt::format("fd {} ({}) of this process keeps the file open", holder.fd, holder.names);
    }
    return std::nullopt;
  }
  // kcmp refused: the inode fallback, which asks no walk of the set.
  for (const auto& [fd, target] : files.fds) {
    if (fd == zombie.kernel.target_fd) continue;
    if (names_registered_file(files, view.epoll_fd, fd, zombie.kernel, zombie.occurrence, view))
      return fmt::format("fd {} ({}) of this process keeps the file open", fd, target);
  }
  return std::nullopt;
}

// Read once per set, and only when a registration's file is held by no descriptor of the
// process: listing every process's descriptors is the slow part of an inspection.
struct Sharers {
  std::optional<std::vector<ProcessFiles>> processes;
  std::optional<FileIndex> index;  // their descriptors
};

std::optional<Holder> holder_among(Sharers& sharers, const EpollSetView& view,
                                   const RegistrationView& registration) {
  if (!sharers.processes) sharers.processes = processes_sharing(view.pid, view.epoll_fd);
  if (!sharers.index) {
    std::vector<Holder> holders;
    for (const auto& other : *sharers.processes)
      for (const auto& [fd, names] : other.fds) holders.push_back({other.pid, fd, names});
    sharers.index.emplace(std::move(holders));
  }
  // Processes sharing the set are found with kcmp: without it there are none to ask.
  const auto holders = sharers.index->holding(
      {view.pid, view.epoll_fd, registration.kernel, registration.occurrence});
  if (!holders || holders->empty()) return std::nullopt;
  for (const auto& holder : *holders)
    if (holder.fd == registration.kernel.target_fd) return holder;  // live there
  return holders->front();
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
void classify_zombie(const ProcessFiles& files, RegistrationView& registration, Keepers& keepers,
                     Sharers& sharers, EpollSetView& view, std::vector<Finding>& findings) {
  auto keeper = keeper_of(files, registration, keepers, view);
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

// Live registrations are one open file only when their numbers are: they are grouped by inode,
// each group of two or more ordered by kcmp(KCMP_FILE) (no walk of the set), and only the
// neighbours that kcmp calls one file are asked again, as same_open_file does. Every eventfd,
// timerfd and signalfd shares one inode: comparing each pair of them, a walk of the set each,
// was cubic in their number. Each later registration of one file is reported against the first.
void find_duplicates(const ProcessFiles& files, EpollSetView& view,
                     std::vector<Finding>& findings) {
  auto& all = view.registrations;
  std::map<std::pair<std::uint64_t, std::uint64_t>, std::vector<std::size_t>> by_inode;
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (all[i].state != "live") continue;
    by_inode[{all[i].kernel.inode.value_or(0), all[i].kernel.device.value_or(0)}].push_back(i);
  }
  const auto fd_of = [&](std::size_t i) { return all[i].kernel.target_fd; };
  std::vector<std::pair<std::size_t, std::size_t>> pairs;  // (first, later) registration
  for (auto& [inode, group] : by_inode) {
    if (group.size() < 2) continue;
    bool refused = false;
    merge_sort(group, [&](std::size_t a, std::size_t b) {
      const auto answer = compare_files(files.pid, fd_of(a), files.pid, fd_of(b));
      if (answer == FileOrder::kUnknown) refused = true;
      if (answer == FileOrder::kLess) return true;
      if (answer == FileOrder::kNoDescriptor) return a < b;  // closed meanwhile: any place
      return false;
    });
    if (refused) {
      // Without kcmp, one inode is one file only for kinds whose files never share one.
      view.compared_by_inode = true;
      std::sort(group.begin(), group.end());
      if (shares_inodes(all[group.front()].names_now)) continue;
      for (std::size_t k = 1; k < group.size(); ++k) pairs.emplace_back(group.front(), group[k]);
      continue;
    }
    for (std::size_t begin = 0; begin < group.size();) {
      auto end = begin + 1;
      while (end < group.size() && compare_files(files.pid, fd_of(group[begin]), files.pid,
                                                 fd_of(group[end])) == FileOrder::kSame)
        ++end;
      if (end - begin > 1) {
        std::vector<std::size_t> run(group.begin() + static_cast<std::ptrdiff_t>(begin),
                                     group.begin() + static_cast<std::ptrdiff_t>(end));
        std::sort(run.begin(), run.end());
        for (std::size_t k = 1; k < run.size(); ++k)
          if (same_open_file(files, all[run.front()], all[run[k]], view))
            pairs.emplace_back(run.front(), run[k]);
      }
      begin = end;
    }
  }
  std::sort(pairs.begin(), pairs.end());
  for (const auto& [first, later] : pairs) {
    findings.push_back(finding_for(
        view, all[later], "duplicate_target", Severity::kWarning,
        fmt::format("fd {} and fd {} are one open file (a dup, or inherited), registered twice",
                    all[first].kernel.target_fd, all[later].kernel.target_fd)));
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
  Keepers keepers;
  Sharers sharers;
  for (auto& registration : view.registrations) {
    if (registration.state == "closed" || registration.state == "other_file")
      classify_zombie(files, registration, keepers, sharers, view, findings);
  }
  find_duplicates(files, view, findings);
  find_token_collisions(view, findings);
  return view;
}

}  // namespace pollscope
