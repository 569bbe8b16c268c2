#pragma once

// What one traced process's log cannot tell alone, found across all of them once every log is
// read: registrations a child removed from a set shared at a fork, and children spawned that
// never announced themselves.

#include <vector>

#include "inspect/finding.hpp"
#include "trace/grade.hpp"

namespace pollscope {

// A parent cannot see its children's calls: a registration of a shared set that a child removed
// is dropped from the parent's `leaked` and `vanished` findings. Which one a DEL removed is told
// by the calls' times, the only order between two processes' logs: the parent's registration of
// that set and number added last at or before the DEL. One the parent adds after the DEL is
// graded as usual (an ADD's time is taken after the call and a DEL's before it, so an ADD the
// kernel ran after the DEL always reads later; one racing the DEL may too, and stays a finding).
void end_what_children_removed(const std::vector<TracedProcess>& processes,
                               std::vector<Finding>& findings);

// A child a process spawned (posix_spawn) that never announced itself: an `untraced` error.
void find_untraced_spawns(const std::vector<TracedProcess>& processes,
                          std::vector<Finding>& findings);

}  // namespace pollscope
