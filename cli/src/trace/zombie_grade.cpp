// The zombies' side of grading a traced process (grader.hpp): each zombie's detail, who keeps its
// file and what arrived under its token, and its end when the last descriptor of its file closed.

#include <fmt/format.h>

#include "trace/grader.hpp"

namespace pollscope::grading {

namespace {

std::string keeper_text(const ZombieNote& note) {
  if (note.keeper >= 0) return fmt::format("fd {} (a dup) keeps the file open", note.keeper);
  if (note.inherited)
    return "its parent, which made the registration before the fork, still holds the file, and "
           "the set is shared: events under its token reach this process too";
  return "another process (a forked child?) keeps the file open";
}

}  // namespace

// Each zombie's detail: who keeps its file, and the events under its token. A zombie whose set
// was closed next, with no other change and no event under its token, did nothing: its
// registration ended with the set (a worker's teardown), so it is only a warning.
void Grader::describe_zombies(int epoll_fd, EpollSet& set, bool set_closed) {
  for (auto& [token, group] : set.zombies) {
    if (group.ghost_events > 0) {
      for (const auto& [fd, registration] : group.inherited) {
        add("zombie", Severity::kError, epoll_fd, fd, registration, {});
        group.zombies.push_back({findings_.size() - 1, -1, true});
      }
    }
    group.inherited.clear();
    if (group.zombies.empty()) continue;
    const int first_fd = findings_[group.zombies.front().finding].fd;
    for (std::size_t i = 0; i < group.zombies.size(); ++i) {
      const ZombieNote& note = group.zombies[i];
      auto& finding = findings_[note.finding];
      const auto keeper = keeper_text(note);
      const auto events = i == 0
                              ? fmt::format("{} events arrived under token {} afterwards",
                                            group.ghost_events, token)
                              : fmt::format(
                                    "its token {} is also fd {}'s, an earlier zombie of this set: "
                                    "events under it are counted there",
                                    token, first_fd);
      finding.ghost_events = i == 0 ? group.ghost_events : 0;
      finding.detail = fmt::format(
          "fd {} was closed while registered in epoll fd {}, but {}: the registration lives on "
          "and {}",
          finding.fd, epoll_fd, keeper, events);
      if (group.shared_with_live)
        finding.detail +=
            " (not counting events while a live registration of the set had the same token)";
      if (note.ended_by >= 0) {
        finding.detail += fmt::format(
            "; it ended when fd {}, the last descriptor of its file, was closed", note.ended_by);
        if (!note.changed_before_end && group.ghost_events == 0) {
          finding.severity = Severity::kWarning;
          finding.detail +=
              ", next, with no other change and no event under its token (the file's two "
              "descriptors closed one after the other)";
        }
        continue;
      }
      if (set_closed && !note.changed && group.ghost_events == 0) {
        finding.severity = Severity::kWarning;
        finding.detail +=
            "; its epoll set was itself closed next, with no other change and no event under its "
            "token (as at a loop's teardown): the registration ended with the set";
      }
    }
  }
}

// The zombie of the set under the number and token, whose keeper's close ended it.
void Grader::zombie_ended(const TraceRecord& record) {
  const auto set = sets_.find(record.epoll_fd);
  if (set == sets_.end()) return;
  const auto group = set->second.zombies.find(record.data);
  if (group == set->second.zombies.end()) return;
  for (auto& note : group->second.zombies) {
    if (note.ended_by >= 0 || findings_[note.finding].fd != record.fd) continue;
    note.ended_by = record.keeper;
    note.changed_before_end = note.changed;
    return;
  }
}

}  // namespace pollscope::grading
