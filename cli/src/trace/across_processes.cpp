#include "trace/across_processes.hpp"

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>

#include <fmt/format.h>

#include "trace/program_check.hpp"

namespace pollscope {

namespace {

// The ADD time of `parent`'s registration that `removal` ended: its last under that set and
// number at or before the DEL.
std::optional<std::uint64_t> removed_registration(const TracedProcess& parent,
                                                  const Removal& removal) {
  const auto history = parent.added.find({removal.epoll_fd, removal.fd});
  if (history == parent.added.end()) return std::nullopt;
  std::optional<std::uint64_t> last;
  for (const auto time : history->second)
    if (time <= removal.time && (!last || time > *last)) last = time;
  return last;
}

}  // namespace

void find_untraced_spawns(const std::vector<TracedProcess>& processes,
                          std::vector<Finding>& findings) {
  std::set<pid_t> traced;
  for (const auto& process : processes) traced.insert(process.pid);
  for (const auto& process : processes)
    for (const auto& [child, program] : process.spawned)
      if (!traced.contains(child)) {
        auto finding = untraced_finding(child, program, "spawned as");
        finding.detail = fmt::format("pid {} spawned pid {} running {}", process.pid, child,
                                     finding.detail.substr(std::string("spawned as ").size()));
        findings.push_back(std::move(finding));
      }
}

void end_what_children_removed(const std::vector<TracedProcess>& processes,
                               std::vector<Finding>& findings) {
  std::set<std::tuple<pid_t, int, int, std::uint64_t>> removed;  // pid, set, fd, ADD time
  for (const auto& parent : processes) {
    for (const auto& child : processes) {
      if (child.parent != parent.pid) continue;
      for (const auto& removal : child.removed_inherited)
        if (const auto added = removed_registration(parent, removal))
          removed.insert({parent.pid, removal.epoll_fd, removal.fd, *added});
    }
  }
  std::erase_if(findings, [&](const Finding& finding) {
    return (finding.kind == "leaked" || finding.kind == "vanished") &&
           removed.contains({finding.pid, finding.epoll_fd, finding.fd, finding.registered_at});
  });
}

}  // namespace pollscope
