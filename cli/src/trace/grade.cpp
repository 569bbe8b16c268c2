#include "trace/grade.hpp"

#include <map>
#include <utility>

#include <fmt/format.h>

namespace pollscope {

namespace {

struct Registration {
  std::uint64_t data = 0;
  std::uint32_t events = 0;
  std::vector<std::string> frames;
};

struct EpollSet {
  std::map<int, Registration> live;
  bool shrank = false;
  // vanished findings of this set, and whether the set changed after each.
  std::vector<std::pair<std::size_t, bool>> vanished;
};

struct ZombieNote {
  std::size_t finding;
  int keeper;
};

bool is_interposer(const std::string& frame) {
  return frame.find("libpollscope_trace.so@") != std::string::npos;
}

bool in_libc(const std::string& module) {
  return module.find("/libc.so") != std::string::npos ||
         module.find("/ld-linux") != std::string::npos;
}

class Grader {
 public:
  Grader(Symbolizer& symbolizer, TracedProcess& process)
      : symbolizer_(symbolizer), process_(process) {}

  void apply(const TraceRecord& record);
  void finish(bool finished);
  std::vector<Finding> take() { return std::move(findings_); }

 private:
  Finding& add(const char* kind, Severity severity, int epoll_fd, int fd,
               const Registration& registration, std::string detail);
  void symbolize(Finding& finding, const std::vector<std::string>& frames);
  void registered(const TraceRecord& record);
  void closed(const TraceRecord& record);
  void set_closed(int epoll_fd);
  void new_image(const TraceRecord& record);

  Symbolizer& symbolizer_;
  TracedProcess& process_;
  std::map<int, EpollSet> sets_;
  std::map<std::pair<int, std::uint64_t>, ZombieNote> zombies_;
  std::vector<Finding> findings_;
};

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
  if (record.kind == 'D') {
    if (set.live.erase(record.fd) > 0) set.shrank = true;
    return;
  }
  Registration registration{record.data, record.events, record.frames};
  if (record.kind == 'M') {
    if (const auto it = set.live.find(record.fd); it != set.live.end())
      registration.frames = it->second.frames;  // the site is where it was added
  }
  for (const auto& [fd, other] : set.live) {
    if (fd == record.fd || other.data != record.data) continue;
    add("token_collision", Severity::kError, record.epoll_fd, record.fd, registration,
        fmt::format("token {} is also fd {}'s in this set: their events cannot be told apart",
                    record.data, fd));
  }
  set.live[record.fd] = std::move(registration);
}

void Grader::closed(const TraceRecord& record) {
  auto& set = sets_[record.epoll_fd];
  const auto it = set.live.find(record.fd);
  const Registration registration = it == set.live.end() ? Registration{} : it->second;
  if (it != set.live.end()) set.live.erase(it);
  set.shrank = true;
  if (record.kind == 'V') {
    add("vanished", Severity::kWarning, record.epoll_fd, record.fd, registration,
        fmt::format("fd {} was closed while registered and no other descriptor kept its file: "
                    "the kernel removed the registration",
                    record.fd));
    set.vanished.emplace_back(findings_.size() - 1, false);
    return;
  }
  add("zombie", Severity::kError, record.epoll_fd, record.fd, registration, {});
  zombies_[{record.epoll_fd, registration.data}] = {findings_.size() - 1, record.keeper};
}

void Grader::set_closed(int epoll_fd) {
  auto& set = sets_[epoll_fd];
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
      if (const auto it = zombies_.find({record.epoll_fd, record.data}); it != zombies_.end())
        findings_[it->second.finding].ghost_events += record.count;
      break;
    case 'X':
      set_closed(record.epoll_fd);
      break;
    default:
      break;
  }
}

void Grader::new_image(const TraceRecord& record) {
  if (process_.pid != 0) finish(true);  // the earlier image executed this one
  sets_.clear();
  zombies_.clear();
  process_.pid = record.pid;
  process_.parent = record.parent;
  process_.executable = record.executable;
}

void Grader::finish(bool finished) {
  for (const auto& [key, note] : zombies_) {
    const auto& [epoll_fd, data] = key;
    auto& finding = findings_[note.finding];
    const auto keeper = note.keeper >= 0
                            ? fmt::format("fd {} (a dup) keeps the file open", note.keeper)
                            : std::string("another process (a forked child?) keeps the file open");
    finding.detail = fmt::format(
        "fd {} was closed while registered in epoll fd {}, but {}: the registration lives on "
        "and {} events arrived under token {} afterwards",
        finding.fd, epoll_fd, keeper, finding.ghost_events, data);
  }
  if (!finished) return;
  for (auto& [epoll_fd, set] : sets_) {
    for (const auto& [index, changed] : set.vanished)
      findings_[index].detail += "; its epoll set lived on (still open at exit)";
    for (const auto& [fd, registration] : set.live)
      add("leaked", Severity::kWarning, epoll_fd, fd, registration,
          fmt::format("fd {} was still registered in epoll fd {} when the process ended", fd,
                      epoll_fd));
    if (!set.shrank && set.live.size() >= kGrowingSize) {
      add("growing", Severity::kError, epoll_fd, -1, Registration{},
          fmt::format("epoll fd {} only grew: {} registrations at the end, none ever removed",
                      epoll_fd, set.live.size()));
    }
  }
}

}  // namespace

std::vector<Finding> grade_process(const std::vector<TraceRecord>& records, bool finished,
                                   Symbolizer& symbolizer, TracedProcess& process) {
  Grader grader(symbolizer, process);
  for (const auto& record : records) grader.apply(record);
  grader.finish(finished);
  return grader.take();
}

}  // namespace pollscope
