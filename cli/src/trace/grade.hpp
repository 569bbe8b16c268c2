#pragma once

// Grading one traced process's records into findings. Severity follows what real programs do:
//   error    zombie: closed while another descriptor keeps the file, so the registration lives
//            and events arrive under a dead token (ghost events counted); a warning when the set
//            closes next with no other change and no ghost event (a worker's teardown: the
//            registration ends with the set);
//            token_collision: one data word used by two live registrations of one set, or by a
//            live registration and a zombie;
//            growing: a set that ends with kGrowingSize registrations or more and never lost one.
//   warning  vanished: closed while registered and no other descriptor keeps the file; the
//            kernel removed the registration (libuv closes its signal pipe and async eventfd so
//            at uv_loop_close). The detail says whether the set lived on or was itself closed;
//            closed_with_registrations: an epoll descriptor closed with live registrations;
//            leaked: still registered when the process exited or executed another program.
// A failed epoll_ctl is not a finding: the program saw the error and handled it (libuv answers
// EEXIST from ADD with MOD).

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "inspect/finding.hpp"
#include "trace/symbolize.hpp"
#include "trace/trace_records.hpp"

namespace pollscope {

inline constexpr std::size_t kGrowingSize = 64;

struct TracedProcess {
  pid_t pid = 0;
  pid_t parent = 0;
  std::string executable;
  std::size_t records = 0;
  // (epoll fd, fd) of each successful EPOLL_CTL_DEL of a registration this process did not make:
  // its parent's, in a set shared at a fork (see end_what_children_removed).
  std::vector<std::pair<int, int>> removed_inherited;
};

// Grades `records` (one process's log, in order). `finished`: the process has exited, so what
// is still registered at the end leaked; while it runs, only what already happened is graded.
[[nodiscard]] std::vector<Finding> grade_process(const std::vector<TraceRecord>& records,
                                                 bool finished, Symbolizer& symbolizer,
                                                 TracedProcess& process);

// A parent cannot see its children's calls: a registration of a shared set that a child removed
// is dropped from the parent's `leaked` and `vanished` findings.
void end_what_children_removed(const std::vector<TracedProcess>& processes,
                               std::vector<Finding>& findings);

}  // namespace pollscope
