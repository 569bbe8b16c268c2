#pragma once

// What a run yields: the figures of each phase and of the whole run, the leak checks' findings,
// and how it ended. The engine fills it; pollers side by side merge theirs exactly.

#include <optional>
#include <string>
#include <vector>

#include "figures/figures.hpp"

namespace pollscope {

struct LeakFinding {
  std::string kind;  // as libpoll's audit names it: leaked, vanished, zombie, ...
  int fd = -1;
  std::uint64_t token = 0;
  std::string interest;
  std::string site;
  std::string detail;
};

struct PhaseOutcome {
  std::string name;
  Figures figures;
  bool leak_checked = false;       // the phase asked for a leak check at its end
  std::vector<LeakFinding> leaks;  // what that check found
};

// How one worker process ended, as its parent saw it.
struct WorkerEnd {
  std::size_t index = 0;
  int pid = 0;
  std::string how;  // "exit 0", "killed by signal 9 (SIGKILL)", "stopped by signal 19 (SIGSTOP)"
  bool failed = false;  // it ended without sending its outcome: the report lacks its share
  // Killed for not ending within its grace after the user's stop: the run was interrupted, and
  // this is no failure of the machine (the report lacks its share all the same).
  bool unanswered_stop = false;
  std::uint64_t peak_rss_kib = 0;
};

struct RunOutcome {
  std::vector<PhaseOutcome> phases;
  Figures overall;                 // the phases one after another, and the whole run's own
  std::vector<LeakFinding> leaks;  // from the teardown check
  bool interrupted = false;
  std::string backend;             // the backend that ran
  std::string clock;               // the clock that stamped messages: "tsc" or "clock_monotonic"
  std::uint64_t peak_rss_kib = 0;  // this process's peak resident memory (the parent's)
  std::vector<WorkerEnd> workers;  // with worker processes: how each ended, by index

  // Adds a phase's outcome, which ran after those already here.
  void add_phase(PhaseOutcome phase);
  // Merges the outcome of a poller that ran side by side with this one (a thread, a worker
  // process) over the same phases.
  void merge(const RunOutcome& other);
};

// With worker processes: the first worker that ended without its outcome (died, stopped, hung),
// as one line naming its index, pid and how it ended; nothing when none did. One killed after
// the user's stop is no failure: the run was interrupted.
[[nodiscard]] std::optional<std::string> worker_failure(const RunOutcome& outcome);
// The same, counting one killed after the user's stop too: the report's "incomplete", since its
// share after the stop is missing all the same.
[[nodiscard]] std::optional<std::string> missing_share(const RunOutcome& outcome);

// When no worker sent its outcome: one line naming the first that failed, and that there is no
// report.
[[nodiscard]] std::string no_worker_outcome(const std::vector<WorkerEnd>& ends);

}  // namespace pollscope
