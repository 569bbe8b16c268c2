#pragma once

// The parent of worker processes watches them on a libpoll Poll of its own: each worker's pipe
// (its outcome) and a pidfd (its end). A worker that dies, stops (SIGSTOP) or stops answering
// (the deadline) is noticed within a tick; the others are told to stop and given a grace (1.5 s,
// longer for workers holding thousands of descriptors); what the rest sent is merged and marked
// with which worker ended how. A stop the user asked for ends the run within that grace, as an
// interrupted run: workers that do not stop in it are killed, and marked. No worker is left
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
  // When none sent an outcome (and the user did not stop the run), a Failure naming the first
  // worker that failed.
  RunOutcome run();
  // As run(), for a caller that words a failure itself (the peer process is no worker): none
  // when no worker sent an outcome and the user did not stop the run; ends() says why.
  std::optional<RunOutcome> collect();
  // How each worker ended, once collect() or run() returned.
  [[nodiscard]] std::vector<WorkerEnd> ends() const;

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
  std::optional<RunOutcome> merged();
  [[nodiscard]] bool all_ended() const;
  [[nodiscard]] bool user_stopped() const;
  [[nodiscard]] bool stopped_unasked(const Watched& worker) const;

  const RunOptions& options_;
  std::uint64_t deadline_ms_;
  std::vector<Watched> workers_;
  // Once the workers were told to stop: by the user, or by this supervisor after a failure.
  std::optional<std::uint64_t> grace_until_ms_;
  libpoll::Backend own_backend_{};
  std::uint64_t grace_ms_ = 0;  // its length, by the descriptors the workers hold
};

}  // namespace pollscope
