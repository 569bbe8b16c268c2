// Worker processes: each forked worker runs its share of the pairs (its poller threads) and
// sends its outcome back through a pipe (wire.hpp); the parent merges them.

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "engine/engine.hpp"
#include "engine/wire.hpp"
#include "scenario/split.hpp"

namespace pollscope {

namespace {

struct Child {
  pid_t pid;
  int pipe;
};

void write_fully(int fd, const std::string& text) {
  for (std::size_t sent = 0; sent < text.size();) {
    const auto n = ::write(fd, text.data() + sent, text.size() - sent);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the parent is gone: nobody to tell
    sent += static_cast<std::size_t>(n);
  }
}

// In the child: runs worker `w`'s share, sends the outcome or the failure, and exits.
[[noreturn]] void run_worker(const Scenario& scenario, const RunOptions& options, std::size_t w,
                             int pipe) {
  std::string text;
  int status = 0;
  try {
    injected_failure_point("engine.process");
    RunOptions child_options = options;
    if (w != 0) child_options.progress = nullptr;
    const std::size_t workers = scenario.workers;
    text = encode_outcome(run_threads(scenario, child_options,
                                      share_of(scenario.sockets.count, workers, w),
                                      share_of(scenario.sockets.active, workers, w), w == 0));
  } catch (...) {
    const FailureReport failure = report_failure(std::current_exception());
    // The parent prints the message with its own "pollscope: ".
    text = encode_failure(Failure(failure.code, failure.line.substr(failure.line.find(' ') + 1)));
    status = failure.code;
  }
  write_fully(pipe, text);
  ::_exit(status);
}

Child spawn_worker(const Scenario& scenario, const RunOptions& options, std::size_t w) {
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC) != 0) {
    throw Failure::environment(std::string("pipe: ") + std::strerror(errno));
  }
  const pid_t pid = ::fork();
  if (pid < 0) throw Failure::environment(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::close(ends[0]);
    run_worker(scenario, options, w, ends[1]);
  }
  ::close(ends[1]);
  return {pid, ends[0]};
}

// Reads a worker's message to its end and reaps it. A stop request that reached only this
// process (kill -INT to the parent; a terminal's Ctrl-C reaches the whole process group) is
// passed on to the workers, once.
std::string collect(const Child& child, const std::vector<Child>& children,
                    const RunOptions& options, bool& forwarded) {
  std::string text;
  char buffer[65536];
  for (;;) {
    const auto n = ::read(child.pipe, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) {
      if (!forwarded && options.stop != nullptr && options.stop->load()) {
        for (const Child& other : children) ::kill(other.pid, SIGINT);
        forwarded = true;
      }
      continue;
    }
    if (n <= 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(child.pipe);
  int status = 0;
  while (::waitpid(child.pid, &status, 0) < 0 && errno == EINTR) {
  }
  return text;
}

}  // namespace

RunOutcome run_scenario(const Scenario& scenario, const RunOptions& options) {
  raise_fd_limit(scenario);
  if (scenario.workers == 1) {
    return run_threads(scenario, options, scenario.sockets.count, scenario.sockets.active, true);
  }
  std::vector<Child> children;
  for (std::size_t w = 0; w < scenario.workers; ++w) {
    children.push_back(spawn_worker(scenario, options, w));
  }
  std::optional<RunOutcome> merged;
  std::optional<Failure> failure;
  bool forwarded = false;
  for (const Child& child : children) {
    auto message = decode_message(collect(child, children, options, forwarded));
    if (auto* failed = std::get_if<Failure>(&message)) {
      failure = std::move(*failed);
    } else if (!merged) {
      merged = std::get<RunOutcome>(std::move(message));
    } else {
      merged->merge(std::get<RunOutcome>(message));
    }
  }
  if (failure) throw *failure;
  return std::move(*merged);
}

}  // namespace pollscope
