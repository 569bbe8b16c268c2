#include "io/child_run.hpp"

#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string_view>

#include "base/failure.hpp"

namespace pollscope {

namespace {

using Clock = std::chrono::steady_clock;

// How long a child told to stop may take to end before SIGKILL: a stopped run still writes its
// partial report. A shorter limit (a test's) shortens it too.
constexpr std::chrono::milliseconds kStopGrace{10'000};

// In the child, between fork and exec: async-signal-safe calls only.
[[noreturn]] void exec_child(char* const* argv, const ChildControl* control, pid_t parent) {
  if (control != nullptr) {
    ::setpgid(0, 0);
    // SIGKILL cannot be caught: without this, a build would outlive an ab killed so.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    if (control->output_to_stderr && ::dup2(STDERR_FILENO, STDOUT_FILENO) < 0) ::_exit(127);
  }
  ::execv(argv[0], argv);
  ::_exit(127);
}

// Forks and execs `binary`; `control` (when given) puts it in a group of its own.
pid_t start_child(const std::string& binary, const std::vector<std::string>& arguments,
                  const ChildControl* control) {
  std::vector<std::string> args = {binary};
  args.insert(args.end(), arguments.begin(), arguments.end());
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t child = ::fork();
  if (child < 0) throw Failure::environment("fork failed");
  if (child == 0) exec_child(argv.data(), control, parent);
  // Here too, so that the group exists before a signal is sent to it.
  if (control != nullptr) ::setpgid(child, child);
  return child;
}

int reap(pid_t child) {
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

enum class Wake { ended, stop, deadline };

// Waits for the child (its pidfd) to end, `stop` to ask for a signal (into `signal`), or the
// deadline. SIGINT and SIGTERM are blocked but inside ppoll, so that one that arrives after
// `stop` was asked still ends the wait.
Wake wait_for(int pidfd, std::optional<Clock::time_point> deadline,
              const std::function<int()>& stop, int& signal) {
  sigset_t stops;
  sigset_t before;
  sigemptyset(&stops);
  sigaddset(&stops, SIGINT);
  sigaddset(&stops, SIGTERM);
  ::sigprocmask(SIG_BLOCK, &stops, &before);
  Wake wake = Wake::ended;
  int error = 0;
  for (;;) {
    if (stop && (signal = stop()) != 0) {
      wake = Wake::stop;
      break;
    }
    timespec timeout{};
    if (deadline) {
      const auto left =
          std::chrono::duration_cast<std::chrono::nanoseconds>(*deadline - Clock::now());
      if (left.count() <= 0) {
        wake = Wake::deadline;
        break;
      }
      timeout = {static_cast<time_t>(left.count() / 1'000'000'000), left.count() % 1'000'000'000};
    }
    pollfd ended{pidfd, POLLIN, 0};
    const int ready = ::ppoll(&ended, 1, deadline ? &timeout : nullptr, &before);
    if (ready > 0) break;
    if (ready < 0 && errno != EINTR) {
      error = errno;
      break;
    }
  }
  ::sigprocmask(SIG_SETMASK, &before, nullptr);
  if (error != 0) throw Failure::environment(std::string("ppoll: ") + std::strerror(error));
  return wake;
}

// A child in a group of its own, killed with its group and reaped however the wait ends.
struct RunningChild {
  pid_t pid;
  int pidfd = -1;
  bool reaped = false;
  ~RunningChild() {
    if (!reaped) {
      ::kill(-pid, SIGKILL);
      (void)reap(pid);
    }
    if (pidfd >= 0) ::close(pidfd);
  }
};

}  // namespace

std::string own_executable() {
  std::error_code error;
  const auto path = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) throw Failure::environment("cannot find its own executable");
  return path.string();
}

std::optional<std::string> find_on_path(const std::string& name) {
  const char* path = ::getenv("PATH");
  std::string_view rest = path ? path : "/usr/bin:/bin";
  while (!rest.empty()) {
    const auto colon = rest.find(':');
    const std::string directory(rest.substr(0, colon));
    rest = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon + 1);
    const std::string candidate = (directory.empty() ? "." : directory) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

int run_child(const std::string& binary, const std::vector<std::string>& arguments) {
  return reap(start_child(binary, arguments, nullptr));
}

ChildEnd run_child(const std::string& binary, const std::vector<std::string>& arguments,
                   const ChildControl& control) {
  RunningChild child{start_child(binary, arguments, &control)};
  child.pidfd = static_cast<int>(::syscall(SYS_pidfd_open, child.pid, 0));
  if (child.pidfd < 0)
    throw Failure::environment(std::string("pidfd_open: ") + std::strerror(errno));
  std::optional<Clock::time_point> deadline;
  if (control.limit) deadline = Clock::now() + *control.limit;
  ChildEnd end;
  int signal = 0;
  const Wake wake = wait_for(child.pidfd, deadline, control.stop, signal);
  if (wake != Wake::ended) {
    end.stopped = wake == Wake::stop;
    end.overran = wake == Wake::deadline;
    ::kill(-child.pid, end.stopped ? signal : SIGTERM);
    const auto grace = std::min(kStopGrace, control.limit.value_or(kStopGrace));
    int ignored = 0;
    (void)wait_for(child.pidfd, Clock::now() + grace, {}, ignored);
    // The child, ended or not, still holds its number until reaped: the group is its own.
    ::kill(-child.pid, SIGKILL);
  }
  end.code = reap(child.pid);
  child.reaped = true;
  return end;
}

TemporaryDirectory::TemporaryDirectory(const std::string& purpose)
    : path_((std::filesystem::temp_directory_path() / (purpose + "-XXXXXX")).string()) {
  if (::mkdtemp(path_.data()) == nullptr) {
    throw Failure::environment("cannot make a temporary directory");
  }
}

TemporaryDirectory::~TemporaryDirectory() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace pollscope
