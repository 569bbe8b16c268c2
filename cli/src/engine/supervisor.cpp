#include "engine/supervisor.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "engine/clock.hpp"
#include "engine/wire.hpp"
#include "libpoll/libpoll.hpp"

namespace pollscope {

namespace {

constexpr int kTickMs = 50;                // a death or a stop is noticed within this
constexpr std::uint64_t kGraceMs = 1'500;  // told to stop, a worker has this long to answer
// and this much longer per descriptor slot it holds: its teardown deregisters and closes each,
// and a worker of scale_100k (16,000 descriptors, 12 workers on 2 cores) needs over 1.5 s.
constexpr double kGraceMsPerSlot = 0.05;
constexpr std::uint64_t kSetupMarginMs = 30'000;

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

std::string signal_name(int signal) {
  const char* name = ::sigabbrev_np(signal);
  return fmt::format("signal {} (SIG{})", signal, name != nullptr ? name : "?");
}

// The size of a process's descriptor table (FDSize in /proc/PID/status): cheap to read, and
// within twice the descriptors it holds. 0 when it is gone.
std::uint64_t descriptor_slots(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string key; status >> key;) {
    if (key == "FDSize:") {
      std::uint64_t slots = 0;
      status >> slots;
      return slots;
    }
  }
  return 0;
}

int open_pidfd(pid_t pid) {
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) throw Failure::environment(std::string("pidfd_open: ") + std::strerror(errno));
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  return fd;
}

}  // namespace

std::uint64_t hang_deadline_ms(const Scenario& scenario) {
  std::uint64_t total = kSetupMarginMs;
  for (const Phase& phase : scenario.phases) {
    const auto planned = planned_ms(phase);
    total += planned ? *planned + 1'000 : 60'000;  // a second to drain
  }
  return total;
}

std::uint64_t own_peak_rss_kib() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<std::uint64_t>(usage.ru_maxrss);
}

Supervisor::Supervisor(const RunOptions& options, std::uint64_t deadline_ms)
    : options_(options), deadline_ms_(now_ms() + deadline_ms) {}

Supervisor::~Supervisor() {
  for (Watched& worker : workers_) {
    if (!worker.ended) {
      ::kill(worker.process.pid, SIGKILL);
      while (::waitpid(worker.process.pid, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
    if (worker.pidfd >= 0) ::close(worker.pidfd);
    if (worker.process.pipe >= 0) ::close(worker.process.pipe);
  }
}

void Supervisor::adopt(WorkerProcess process) {
  Watched worker;
  worker.process = process;
  worker.end.index = process.index;
  worker.end.pid = process.pid;
  workers_.push_back(std::move(worker));
  workers_.back().pidfd = open_pidfd(process.pid);
  ::fcntl(process.pipe, F_SETFL, ::fcntl(process.pipe, F_GETFL) | O_NONBLOCK);
}

// Reads what the worker's pipe holds now; to its end once the worker has exited.
void Supervisor::drain(Watched& worker) {
  char buffer[65536];
  while (!worker.pipe_closed) {
    const auto n = ::read(worker.process.pipe, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return;  // EAGAIN: more later
    if (n == 0) worker.pipe_closed = true;
    worker.text.append(buffer, static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
  }
}

void Supervisor::fail(Watched& worker, std::string how) {
  if (!worker.end.failed) worker.end.how = std::move(how);
  worker.end.failed = true;
  ::kill(worker.process.pid, SIGKILL);  // a stopped or hung worker ends here
}

// The worker has exited: its last words, how it ended and its peak memory.
void Supervisor::reap(Watched& worker) {
  int status = 0;
  rusage usage{};
  while (::wait4(worker.process.pid, &status, 0, &usage) < 0 && errno == EINTR) {
  }
  worker.ended = true;
  drain(worker);
  worker.end.peak_rss_kib = static_cast<std::uint64_t>(usage.ru_maxrss);
  if (worker.end.failed) return;  // stopped or hung, then killed: said already
  if (WIFSIGNALED(status)) {
    worker.end.how = "killed by " + signal_name(WTERMSIG(status));
    worker.end.failed = true;
  } else {
    worker.end.how = fmt::format("exit {}", WEXITSTATUS(status));
    worker.end.failed = worker.text.empty();  // it ended without a word
  }
  if (!worker.end.failed && stopped_unasked(worker)) {
    worker.end.how += ", stopped early by a signal sent to it alone";
    worker.end.failed = true;  // the others are stopped: the run is cut short
  }
}

// A worker that stopped early (SIGINT or SIGTERM, handled as a stop) when neither the user nor
// this supervisor asked it to: a signal sent to it alone cut its share short, a failure.
bool Supervisor::stopped_unasked(const Watched& worker) const {
  if (user_stopped() || grace_until_ms_) return false;
  const auto message = decode_message(worker.text);
  const auto* sent = std::get_if<RunOutcome>(&message);
  return sent != nullptr && sent->interrupted;
}

// A worker stopped (SIGSTOP, SIGTSTP) will answer nothing: caught at once, not at the deadline.
void Supervisor::check_stopped(Watched& worker) {
  siginfo_t info{};
  if (::waitid(P_PID, static_cast<id_t>(worker.process.pid), &info, WSTOPPED | WNOHANG) == 0 &&
      info.si_pid != 0) {
    fail(worker, "stopped by " + signal_name(info.si_status));
  }
}

void Supervisor::stop_all(std::uint64_t now) {
  if (grace_until_ms_) return;
  std::uint64_t slots = 0;
  for (Watched& worker : workers_) {
    if (worker.ended) continue;
    ::kill(worker.process.pid, SIGINT);
    slots = std::max(slots, descriptor_slots(worker.process.pid));
  }
  grace_ms_ = kGraceMs + static_cast<std::uint64_t>(static_cast<double>(slots) * kGraceMsPerSlot);
  grace_until_ms_ = now + grace_ms_;
}

void Supervisor::kill_remaining(const std::string& how) {
  for (Watched& worker : workers_) {
    if (worker.ended) continue;
    // Too slow to answer the user's stop: the run was interrupted, not failed.
    if (!worker.end.failed) worker.end.unanswered_stop = user_stopped();
    fail(worker, how);
  }
}

bool Supervisor::user_stopped() const {
  return options_.stop != nullptr && options_.stop->load(std::memory_order_relaxed);
}

bool Supervisor::all_ended() const {
  for (const Watched& worker : workers_) {
    if (!worker.ended) return false;
  }
  return true;
}

// Every tick: a stop asked for, a worker stopped or failed, a grace or the deadline run out.
void Supervisor::watch(std::uint64_t now) {
  if (user_stopped()) stop_all(now);
  for (Watched& worker : workers_) {
    if (!worker.ended) check_stopped(worker);
    if (worker.end.failed) stop_all(now);
  }
  if (grace_until_ms_ && now >= *grace_until_ms_) {
    kill_remaining(fmt::format("killed: not stopped {} ms after being told to", grace_ms_));
  }
  if (now >= deadline_ms_) kill_remaining("killed: no answer before the run's deadline");
}

std::optional<RunOutcome> Supervisor::collect() {
  auto poll = libpoll::Poll::create();
  if (!poll) throw Failure::environment("poll: " + poll.error().message());
  own_backend_ = poll->backend();
  const libpoll::Registry& registry = poll->registry();
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    for (int fd : {workers_[i].process.pipe, workers_[i].pidfd}) {
      const libpoll::Token token{2 * i + (fd == workers_[i].pidfd ? 1 : 0)};
      auto registered =
          registry.register_source(libpoll::SourceFd(fd), token, libpoll::Interest::readable);
      if (!registered) throw Failure::environment("register: " + registered.error().message());
    }
  }
  libpoll::Events events(64);
  while (!all_ended()) {
    auto polled = poll->poll(events, std::chrono::milliseconds(kTickMs));
    if (!polled && polled.error() != std::errc::interrupted) {
      throw Failure::environment("poll: " + polled.error().message());
    }
    for (const libpoll::Event& event : events) {
      Watched& worker = workers_[event.token().value / 2];
      if (event.token().value % 2 == 0) drain(worker);
      if (event.token().value % 2 == 1 && !worker.ended) {
        reap(worker);
        for (int fd : {worker.process.pipe, worker.pidfd}) {
          (void)registry.deregister_source(libpoll::SourceFd(fd));
        }
      }
    }
    watch(now_ms());
  }
  return merged();
}

RunOutcome Supervisor::run() {
  std::optional<RunOutcome> outcome = collect();
  if (!outcome) throw Failure::environment(no_worker_outcome(ends()));
  return std::move(*outcome);
}

std::vector<WorkerEnd> Supervisor::ends() const {
  std::vector<WorkerEnd> ends;
  for (const Watched& worker : workers_) ends.push_back(worker.end);
  return ends;
}

// What the workers sent, merged, with how each ended. A Failure a worker reported itself (it
// could not run) is thrown as before; a worker that died leaves the others' outcome, marked.
std::optional<RunOutcome> Supervisor::merged() {
  std::optional<RunOutcome> outcome;
  std::optional<Failure> failure;
  for (const Watched& worker : workers_) {
    if (worker.end.failed) continue;
    auto message = decode_message(worker.text);
    if (auto* failed = std::get_if<Failure>(&message)) {
      failure = std::move(*failed);
    } else if (!outcome) {
      outcome = std::get<RunOutcome>(std::move(message));
    } else {
      outcome->merge(std::get<RunOutcome>(message));
    }
  }
  if (failure) throw *failure;
  if (!outcome && !user_stopped()) return std::nullopt;
  // Stopped by the user before any worker sent a word: a report of nothing, interrupted, on the
  // backend asked for (or this machine's default, which the workers' own Polls would name).
  if (!outcome) {
    outcome.emplace().interrupted = true;
    outcome->backend = std::string(libpoll::to_string(options_.backend.value_or(own_backend_)));
    outcome->clock = std::string(Clock::get().name());
  }
  // The others were stopped by this supervisor, not by the user: no interruption to report.
  if (!user_stopped()) outcome->interrupted = false;
  outcome->workers = ends();
  outcome->peak_rss_kib = own_peak_rss_kib();
  return outcome;
}

}  // namespace pollscope
