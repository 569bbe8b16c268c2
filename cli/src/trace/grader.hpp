#pragma once

// The grader of one traced process's records (grade_process, grade.hpp): its books of each epoll
// set (live registrations, vanished ones, zombies by token) and the findings they lead to. The
// zombies' part, the longest, is in zombie_grade.cpp; the rest, and grade_process, in grader.cpp.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "trace/grade.hpp"

namespace pollscope::grading {

struct Registration {
  std::uint64_t data = 0;
  std::uint32_t events = 0;
  std::vector<std::string> frames;
  std::uint64_t added = 0;  // its ADD's time
};

struct ZombieNote {
  std::size_t finding;
  int keeper;
  bool inherited = false;  // the parent made the registration before a fork
  bool changed = false;    // the set changed after it (a ctl, or an event under its token)
  // Its registration ended when `ended_by`, the last descriptor of its file, closed (a K record);
  // `changed` as it was then.
  int ended_by = -1;
  bool changed_before_end = false;
};

// The zombies of one set under one token: the kernel's events under it cannot say whose they
// are, so they are counted once, at the first.
struct ZombieGroup {
  std::vector<ZombieNote> zombies;
  // Inherited registrations whose copies this process closed while its parent holds the files.
  std::vector<std::pair<int, Registration>> inherited;
  std::uint64_t ghost_events = 0;
  bool shared_with_live = false;  // a live registration of the set took the token too
};

struct EpollSet {
  std::map<int, Registration> live;
  bool shrank = false;
  // vanished findings of this set, and whether the set changed after each.
  std::vector<std::pair<std::size_t, bool>> vanished;
  std::map<std::uint64_t, ZombieGroup> zombies;  // by token
};

class Grader {
 public:
  Grader(Symbolizer& symbolizer, TracedProcess& process)
      : symbolizer_(symbolizer), process_(process) {}

  void apply(const TraceRecord& record);
  // `how` the image ended, for a leak's detail: "ended", or "executed PROGRAM" when another
  // image replaced it.
  void finish(bool finished, std::string_view how = "ended");
  std::vector<Finding> take() { return std::move(findings_); }

 private:
  Finding& add(const char* kind, Severity severity, int epoll_fd, int fd,
               const Registration& registration, std::string detail);
  void symbolize(Finding& finding, const std::vector<std::string>& frames);
  void registered(const TraceRecord& record);
  void closed(const TraceRecord& record);
  void set_closed(int epoll_fd);
  void describe_zombies(int epoll_fd, EpollSet& set, bool set_closed);
  void new_image(const TraceRecord& record);
  void renumbered(const TraceRecord& record);
  void zombie_ended(const TraceRecord& record);
  void exec_starts(const TraceRecord& record);
  void holds_io_uring(int ring);

  Symbolizer& symbolizer_;
  TracedProcess& process_;
  std::map<int, EpollSet> sets_;
  std::vector<Finding> findings_;
  // An exec recorded (E) and neither failed (R) nor followed by the new image's I: the image
  // never loaded the interposer.
  std::optional<TraceRecord> pending_exec_;
  bool io_uring_said_ = false;
};

}  // namespace pollscope::grading
