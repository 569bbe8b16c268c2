#include "outcome/outcome.hpp"

#include <fmt/format.h>

#include "base/failure.hpp"
#include "figures/catalogue.hpp"

namespace pollscope {

void RunOutcome::add_phase(PhaseOutcome phase) {
  injected_failure_point("outcome");
  merge_figures(overall, phase.figures, Combine::sequential);
  phases.push_back(std::move(phase));
}

void RunOutcome::merge(const RunOutcome& other) {
  for (std::size_t i = 0; i < phases.size() && i < other.phases.size(); ++i) {
    merge_figures(phases[i].figures, other.phases[i].figures, Combine::parallel);
    phases[i].leak_checked = phases[i].leak_checked || other.phases[i].leak_checked;
    phases[i].leaks.insert(phases[i].leaks.end(), other.phases[i].leaks.begin(),
                           other.phases[i].leaks.end());
  }
  // A poller stopped early may have run fewer phases than another: the later ones are the other's.
  for (std::size_t i = phases.size(); i < other.phases.size(); ++i) {
    phases.push_back(other.phases[i]);
  }
  if (backend.empty()) backend = other.backend;
  if (clock.empty()) clock = other.clock;
  merge_figures(overall, other.overall, Combine::parallel);
  leaks.insert(leaks.end(), other.leaks.begin(), other.leaks.end());
  interrupted = interrupted || other.interrupted;
}

namespace {

std::optional<std::string> first_failed(const RunOutcome& outcome, bool with_unanswered_stop) {
  for (const WorkerEnd& end : outcome.workers) {
    if (end.failed && (with_unanswered_stop || !end.unanswered_stop)) {
      return fmt::format("worker {} (pid {}) {}: the report holds what the others collected",
                         end.index, end.pid, end.how);
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> worker_failure(const RunOutcome& outcome) {
  return first_failed(outcome, false);
}

std::optional<std::string> missing_share(const RunOutcome& outcome) {
  if (auto failure = first_failed(outcome, false)) return failure;
  return first_failed(outcome, true);
}

std::string no_worker_outcome(const std::vector<WorkerEnd>& ends) {
  for (const WorkerEnd& end : ends) {
    if (end.failed) {
      return fmt::format("worker {} (pid {}) {}, and no worker sent its outcome: no report",
                         end.index, end.pid, end.how);
    }
  }
  return "no worker sent its outcome: no report";
}

}  // namespace pollscope
