// Worker processes: each forked worker runs its share of the pairs (its poller threads) and
// sends its outcome back through a pipe (wire.hpp); the parent watches them all on a Poll of its
// own (supervisor.cpp) and merges what they send.

#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "engine/engine.hpp"
#include "engine/fan_out.hpp"
#include "engine/supervisor.hpp"
#include "engine/wire.hpp"
#include "scenario/split.hpp"

namespace pollscope {

namespace {

void write_fully(int fd, const std::string& text) {
  for (std::size_t sent = 0; sent < text.size();) {
    const auto n = ::write(fd, text.data() + sent, text.size() - sent);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the parent is gone: nobody to tell
    sent += static_cast<std::size_t>(n);
  }
}

// In the child: runs the job, sends the outcome or the failure, and exits. It dies with its
// parent: PR_SET_PDEATHSIG, and a parent already gone before that was set ends it now.
[[noreturn]] void run_child(const std::function<RunOutcome()>& job, int pipe, pid_t parent) {
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent) ::_exit(kExitEnvironment);
  std::string text;
  int status = 0;
  try {
    injected_failure_point("engine.process");
    text = encode_outcome(job());
  } catch (...) {
    const FailureReport failure = report_failure(std::current_exception());
    // The parent prints the message with its own "pollscope: ".
    text = encode_failure(Failure(failure.code, failure.line.substr(failure.line.find(' ') + 1)));
    status = failure.code;
  }
  write_fully(pipe, text);
  ::_exit(status);
}

}  // namespace

WorkerProcess spawn_process(std::size_t index, const std::function<RunOutcome()>& job) {
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC) != 0) {
    throw Failure::environment(std::string("pipe: ") + std::strerror(errno));
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw Failure::environment(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::close(ends[0]);
    run_child(job, ends[1], parent);
  }
  ::close(ends[1]);
  return WorkerProcess{index, pid, ends[0]};
}

RunOutcome run_scenario(const Scenario& scenario, const RunOptions& options) {
  if (auto refused = raise_fd_limit(scenario)) throw Failure::environment(*refused);
  if (scenario.workers == 1) {
    RunOutcome outcome = run_threads(
        scenario, options, PairShare{scenario.sockets.count, scenario.sockets.active, 0}, true);
    outcome.peak_rss_kib = own_peak_rss_kib();
    return outcome;
  }
  Supervisor supervisor(options, hang_deadline_ms(scenario));
  for (std::size_t w = 0; w < scenario.workers; ++w) {
    supervisor.adopt(spawn_process(w, [&scenario, &options, w] {
      RunOptions child_options = options;
      if (w != 0) child_options.progress = nullptr;
      const std::size_t workers = scenario.workers;
      const std::size_t active = scenario.sockets.active;
      return run_threads(scenario, child_options,
                         PairShare{share_of(scenario.sockets.count, workers, w),
                                   share_of(active, workers, w), start_of(active, workers, w)},
                         w == 0);
    }));
  }
  return supervisor.run();
}

}  // namespace pollscope
