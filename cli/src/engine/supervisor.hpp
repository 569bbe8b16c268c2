#pragma once

// The parent of worker processes watches them on a libpoll Poll of its own: each worker's pipe
// (its outcome) and a pidfd (its end). A worker that dies, stops (SIGSTOP) or stops answering
// (the deadline) is noticed within a tick; the others are told to stop and given a grace; what
// the rest sent is merged and marked with which worker ended how. SIGINT always ends the run
// within two seconds: workers that do not stop in the grace are killed. No worker is left
// running or unreaped.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine.hpp"

namespace pollscope {

struct WorkerProcess {
  std::size_t index = 0;
  pid_t pid = -1;
  int pipe = -1;  // the reading end
};

// How long a run of `scenario` may take before its workers count as hung: its phases' durations
// (or a minute for a phase bounded by its messages alone), plus a margin for setup and teardown.
[[nodiscard]] std::uint64_t hang_deadline_ms(const Scenario& scenario);

// This process's peak resident memory (getrusage), in KiB.
[[nodiscard]] std::uint64_t own_peak_rss_kib();

class Supervisor {
 public:
  Supervisor(const RunOptions& options, std::uint64_t deadline_ms);
  ~Supervisor();  // kills and reaps any worker still there
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  void adopt(WorkerProcess worker);
  // Watches until every worker has ended; the merged outcome, or the Failure a worker reported.
  RunOutcome run();

 private:
  struct Watched {
    WorkerProcess process;
    int pidfd = -1;
    std::string text;
    bool pipe_closed = false;
    bool ended = false;
    WorkerEnd end;
  };

  void drain(Watched& worker);
  void reap(Watched& worker);
  void check_stopped(Watched& worker);
  void fail(Watched& worker, std::string how);
  void stop_all(std::uint64_t now_ms);
  void kill_remaining(const std::string& how);
  void watch(std::uint64_t now_ms);
  RunOutcome merged();
  [[nodiscard]] bool all_ended() const;

  const RunOptions& options_;
  std::uint64_t deadline_ms_;
  std::vector<Watched> workers_;
  std::optional<std::uint64_t> grace_until_ms_;  // once the workers were told to stop
};

}  // namespace pollscope
