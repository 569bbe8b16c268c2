#include "trace/grade.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

#include <fmt/format.h>

#include "trace/grader.hpp"
#include "trace/program_check.hpp"

namespace pollscope {

namespace {

bool is_interposer(const std::string& frame) {
  return frame.find("libpollscope_trace.so@") != std::string::npos;
}

bool in_libc(const std::string& module) {
  return module.find("/libc.so") != std::string::npos ||
         module.find("/ld-linux") != std::string::npos;
}

}  // namespace

namespace grading {

Finding& Grader::add(const char* kind, Severity severity, int epoll_fd, int fd,
                     const Registration& registration, std::string detail) {
  Finding finding;
  finding.kind = kind;
  finding.severity = severity;
  finding.pid = process_.pid;
  finding.epoll_fd = epoll_fd;
  finding.fd = fd;
  finding.token = registration.data;
  finding.interest = epoll_events_text(registration.events);
  finding.detail = std::move(detail);
  finding.registered_at = registration.added;
  symbolize(finding, registration.frames);
  findings_.push_back(std::move(finding));
  return findings_.back();
}

// The stack without the interposer's frames; the site is the innermost frame of the traced
// executable's own code with line information, else the innermost outside the C library.
void Grader::symbolize(Finding& finding, const std::vector<std::string>& frames) {
  for (const auto& recorded : frames) {
    if (!is_interposer(recorded)) finding.stack.push_back(symbolizer_.frame(recorded));
  }
  const StackFrame* site = nullptr;
  for (const auto& frame : finding.stack) {
    if (frame.module == process_.executable && !frame.file.empty()) {
      site = &frame;
      break;
    }
    if (site == nullptr && !in_libc(frame.module)) site = &frame;
  }
  if (site != nullptr) finding.site = describe_frame(*site);
}

void Grader::registered(const TraceRecord& record) {
  auto& set = sets_[record.epoll_fd];
  for (auto& vanished : set.vanished) vanished.second = true;
  for (auto& [token, group] : set.zombies)
    for (auto& zombie : group.zombies) zombie.changed = true;
  if (record.kind == 'D') {
    if (set.live.erase(record.fd) > 0)
      set.shrank = true;
    else
      process_.removed_inherited.push_back({record.epoll_fd, record.fd, record.time});
    return;
  }
  Registration registration{record.data, record.events, record.frames, record.time};
  if (record.kind == 'A') process_.added[{record.epoll_fd, record.fd}].push_back(record.time);
  if (record.kind == 'M') {
    if (const auto it = set.live.find(record.fd); it != set.live.end()) {
      registration.frames = it->second.frames;  // the site is where it was added
      registration.added = it->second.added;
    }
  }
  for (const auto& [fd, other] : set.live) {
    if (fd == record.fd || other.data != record.data) continue;
    add("token_collision", Severity::kError, record.epoll_fd, record.fd, registration,
        fmt::format("token {} is also fd {}'s in this set: their events cannot be told apart",
                    record.data, fd));
  }
  if (const auto zombies = set.zombies.find(record.data); zombies != set.zombies.end()) {
    zombies->second.shared_with_live |=
        std::any_of(zombies->second.zombies.begin(), zombies->second.zombies.end(),
                    [](const ZombieNote& note) { return note.ended_by < 0; });
    const auto& notes = zombies->second.zombies;
    const auto alive = std::find_if(notes.begin(), notes.end(),
                                    [](const ZombieNote& note) { return note.ended_by < 0; });
    if (alive != notes.end()) {
      const int zombie_fd = findings_[alive->finding].fd;
      add("token_collision", Severity::kError, record.epoll_fd, record.fd, registration,
          fmt::format("token {} is also the token of fd {}'s registration, closed but alive in "
                      "the kernel (a zombie): their events cannot be told apart",
                      record.data, zombie_fd));
    }
  }
  set.live[record.fd] = std::move(registration);
}

void Grader::closed(const TraceRecord& record) {
  auto& set = sets_[record.epoll_fd];
  const auto it = set.live.find(record.fd);
  Registration registration = it == set.live.end() ? Registration{} : it->second;
  if (it != set.live.end()) set.live.erase(it);
  registration.events = record.events;  // the mask last set, MODs the log left out included
  registration.data = record.data;
  set.shrank = true;
  if (record.kind == 'V') {
    add("vanished", Severity::kWarning, record.epoll_fd, record.fd, registration,
        fmt::format("fd {} was closed while registered and no other descriptor kept its file: "
                    "the kernel removed the registration{}",
                    record.fd, record.inherited ? " (its parent's, inherited at a fork)" : ""));
    set.vanished.emplace_back(findings_.size() - 1, false);
    return;
  }
  auto& group = set.zombies[registration.data];
  if (record.inherited && record.keeper < 0) {
    // The parent's registration, live for the parent, which holds the file: closing an
    // inherited copy is what a forked child should do. A finding only if events under its
    // token reach this process (describe_zombies).
    group.inherited.push_back({record.fd, registration});
    return;
  }
  add("zombie", Severity::kError, record.epoll_fd, record.fd, registration, {});
  group.zombies.push_back({findings_.size() - 1, record.keeper, record.inherited});
}

void Grader::set_closed(int epoll_fd) {
  auto& set = sets_[epoll_fd];
  describe_zombies(epoll_fd, set, true);
  for (const auto& [index, changed] : set.vanished) {
    findings_[index].detail += changed ? "; its epoll set lived on, and was closed later"
                                       : "; its epoll set was itself closed afterwards, with no "
                                         "other change (as at a loop's teardown)";
  }
  if (!set.live.empty()) {
    std::vector<std::string> listed;
    for (const auto& [fd, registration] : set.live)
      listed.push_back(fmt::format("fd {} (token {})", fd, registration.data));
    const auto& [first_fd, first] = *set.live.begin();
    add("closed_with_registrations", Severity::kWarning, epoll_fd, first_fd, first,
        fmt::format("epoll fd {} was closed with live registrations ({}): {}", epoll_fd,
                    set.live.size(), fmt::join(listed, ", ")));
  }
  sets_.erase(epoll_fd);
}

void Grader::apply(const TraceRecord& record) {
  ++process_.records;
  switch (record.kind) {
    case 'I':
      new_image(record);
      break;
    case 'C':
      sets_[record.epoll_fd] = EpollSet{};
      break;
    case 'A':
    case 'M':
    case 'D':
      if (record.result == 0) registered(record);
      break;
    case 'V':
    case 'Z':
      closed(record);
      break;
    case 'G':
      if (const auto set = sets_.find(record.epoll_fd); set != sets_.end()) {
        if (const auto group = set->second.zombies.find(record.data);
            group != set->second.zombies.end())
          group->second.ghost_events += record.count;
      }
      break;
    case 'K':
      zombie_ended(record);
      break;
    case 'X':
      set_closed(record.epoll_fd);
      break;
    case 'N':
      renumbered(record);
      break;
    case 'E':
      exec_starts(record);
      break;
    case 'R':
      pending_exec_.reset();
      break;
    case 'P':
      process_.spawned.emplace_back(record.pid, program_name(record.executable));
      break;
    case 'Q':
      holds_io_uring(record.fd);
      break;
    default:
      break;
  }
}

// Once per image: a ring whose epoll changes are out of sight. `ring` -1: one kept only
// registered with itself (IORING_SETUP_REGISTERED_FD_ONLY), without a descriptor.
void Grader::holds_io_uring(int ring) {
  if (io_uring_said_) return;
  io_uring_said_ = true;
  Finding finding;
  finding.kind = "io_uring";
  finding.severity = Severity::kWarning;
  finding.pid = process_.pid;
  finding.detail = fmt::format(
      "the process used an io_uring instance ({}): what it watches through the ring (epoll "
      "changes made with IORING_OP_EPOLL_CTL, poll requests such as libpoll's io_uring backend "
      "makes) is invisible to trace, which sees only epoll_ctl calls, so a leak made that way "
      "is not found (pollscope inspect PID reads epoll sets from the kernel, not a ring's poll "
      "requests)",
      ring >= 0 ? fmt::format("fd {}", ring) : std::string("with no descriptor"));
  findings_.push_back(std::move(finding));
}

// A dup of the set's descriptor keeps it after the number it was known by closed.
void Grader::renumbered(const TraceRecord& record) {
  const auto set = sets_.find(record.epoll_fd);
  if (set == sets_.end()) return;
  auto moved = std::move(set->second);
  sets_.erase(set);
  sets_[record.keeper] = std::move(moved);
}

void Grader::exec_starts(const TraceRecord& record) {
  pending_exec_ = record;
  pending_exec_->executable = program_name(record.executable);
  if (process_.pid == 0) {  // a vfork child's log: the exec is its first record
    process_.pid = record.pid;
    process_.parent = record.parent;
    process_.executable = pending_exec_->executable;
  }
}

void Grader::new_image(const TraceRecord& record) {
  pending_exec_.reset();  // the executed image announced itself
  if (process_.pid != 0) finish(true, fmt::format("executed {}", record.executable));
  io_uring_said_ = false;
  sets_.clear();
  process_.pid = record.pid;
  process_.parent = record.parent;
  process_.executable = record.executable;
}

void Grader::finish(bool finished, std::string_view how) {
  if (pending_exec_) {
    findings_.push_back(
        untraced_finding(pending_exec_->pid, pending_exec_->executable, "executed"));
    pending_exec_.reset();
  }
  for (auto& [epoll_fd, set] : sets_) describe_zombies(epoll_fd, set, false);
  if (!finished) return;
  for (auto& [epoll_fd, set] : sets_) {
    for (const auto& [index, changed] : set.vanished)
      findings_[index].detail += "; its epoll set lived on (still open at exit)";
    for (const auto& [fd, registration] : set.live)
      add("leaked", Severity::kWarning, epoll_fd, fd, registration,
          fmt::format("fd {} was still registered in epoll fd {} when the process {}", fd, epoll_fd,
                      how));
    if (!set.shrank && set.live.size() >= kGrowingSize) {
      add("growing", Severity::kError, epoll_fd, -1, Registration{},
          fmt::format("epoll fd {} only grew: {} registrations at the end, none ever removed",
                      epoll_fd, set.live.size()));
    }
  }
}

}  // namespace grading

std::vector<Finding> grade_process(const std::vector<TraceRecord>& records, bool finished,
                                   Symbolizer& symbolizer, TracedProcess& process) {
  grading::Grader grader(symbolizer, process);
  for (const auto& record : records) grader.apply(record);
  grader.finish(finished);
  return grader.take();
}

}  // namespace pollscope
