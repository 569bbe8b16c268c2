#pragma once

// Grading one traced process's records into findings. Severity follows what real programs do:
//   error    zombie: closed while another descriptor keeps the file, so the registration lives
//            and events arrive under a dead token (ghost events counted); a warning when the set
//            closes next with no other change and no ghost event (a worker's teardown: the
//            registration ends with the set);
//            token_collision: one data word used by two live registrations of one set, or by a
//            live registration and a zombie;
//            growing: a set that ends with kGrowingSize registrations or more and never lost one;
//            untraced: a program executed (or spawned) that never loaded the interposer (static,
//            setuid, Go): nothing it did was seen, so the run cannot be called clean.
//   warning  vanished: closed while registered and no other descriptor keeps the file; the
//            kernel removed the registration (libuv closes its signal pipe and async eventfd so
//            at uv_loop_close). The detail says whether the set lived on or was itself closed;
//            closed_with_registrations: an epoll descriptor closed with live registrations;
//            leaked: still registered when the process exited or executed another program;
//            io_uring: the process made or held an io_uring instance, whose IORING_OP_EPOLL_CTL
//            changes and poll requests the interposer cannot see.
// A failed epoll_ctl is not a finding: the program saw the error and handled it (libuv answers
// EEXIST from ADD with MOD).

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "inspect/finding.hpp"
#include "trace/symbolize.hpp"
#include "trace/trace_records.hpp"

namespace pollscope {

inline constexpr std::size_t kGrowingSize = 64;

// A successful EPOLL_CTL_DEL of a registration the process did not make: its parent's, in a set
// shared at a fork (see end_what_children_removed).
struct Removal {
  int epoll_fd = -1;
  int fd = -1;
  std::uint64_t time = 0;  // taken before the call
};

struct TracedProcess {
  pid_t pid = 0;
  pid_t parent = 0;
  std::string executable;
  std::size_t records = 0;
  std::vector<Removal> removed_inherited;
  // The times of this process's successful ADDs, by (epoll fd, fd): which of its registrations a
  // child's DEL removed.
  std::map<std::pair<int, int>, std::vector<std::uint64_t>> added;
  // Children it started with posix_spawn (pid, program): each must have a log of its own.
  std::vector<std::pair<pid_t, std::string>> spawned;
};

// Grades `records` (one process's log, in order). `finished`: the process has exited, so what
// is still registered at the end leaked; while it runs, only what already happened is graded.
[[nodiscard]] std::vector<Finding> grade_process(const std::vector<TraceRecord>& records,
                                                 bool finished, Symbolizer& symbolizer,
                                                 TracedProcess& process);

}  // namespace pollscope
