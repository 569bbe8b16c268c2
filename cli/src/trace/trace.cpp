#include "trace/trace.hpp"

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/pidfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <ostream>

#include <fmt/format.h>

#include "../../interposer/records.hpp"
#include "base/exit_code.hpp"
#include "base/failure.hpp"
#include "base/terminal_text.hpp"
#include "io/files.hpp"
#include "io/output.hpp"
#include "trace/program_check.hpp"

extern char** environ;

namespace pollscope {

namespace {

namespace fs = std::filesystem;

// A scratch directory for the logs, removed with them.
class LogDirectory {
 public:
  LogDirectory() {
    std::string pattern = (fs::temp_directory_path() / "pollscope-trace-XXXXXX").string();
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~LogDirectory() {
    std::error_code ignored;
    if (!path_.empty()) fs::remove_all(path_, ignored);
  }
  LogDirectory(const LogDirectory&) = delete;
  LogDirectory& operator=(const LogDirectory&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// libpoll makes the registration changes of its own sources through io_uring, where the
// interposer cannot see them; this variable makes a traced libpoll program call epoll_ctl.
constexpr std::string_view kBatchChangesEnv = "LIBPOLL_BATCH_CHANGES";

// The command's environment with the interposer loaded first and told where to write.
std::vector<std::string> traced_environment(const std::string& library, const std::string& dir) {
  std::vector<std::string> environment;
  std::string preload = library;
  const auto names = [](std::string_view text, std::string_view name) {
    return text.size() > name.size() && text.substr(0, name.size()) == name &&
           text[name.size()] == '=';
  };
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string_view text = *entry;
    if (names(text, "LD_PRELOAD")) {
      // Appended in place: GCC 12 warns of `":" + std::string(...)` at -O2
      // (-Wstringop-overflow in char_traits::copy, on a path that cannot run).
      preload += ':';
      preload += text.substr(11);
    } else if (!names(text, interposer::kTraceDirEnv) && !names(text, kBatchChangesEnv)) {
      environment.emplace_back(text);
    }
  }
  environment.push_back("LD_PRELOAD=" + preload);
  environment.push_back(std::string(interposer::kTraceDirEnv) + "=" + dir);
  environment.push_back(std::string(kBatchChangesEnv) + "=0");
  return environment;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> result;
  for (auto& text : strings) result.push_back(text.data());
  result.push_back(nullptr);
  return result;
}

// Reports the findings so far (--out) or at the end; false when --out could not be written.
bool write_findings(const TraceRequest& request, const TraceOutcome& outcome, std::ostream& err) {
  if (!request.out_path) return true;
  try {
    write_atomically(*request.out_path, trace_document(request, outcome).dump(2) + "\n");
    return true;
  } catch (const std::exception&) {
    err << report_failure(std::current_exception()).line << "\n";
    return false;
  }
}

int status_of(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  return 128 + WTERMSIG(wait_status);
}

// Waits for the command, grading and writing the findings every interval meanwhile.
std::optional<int> wait_for(pid_t child, const TraceRequest& request, const std::string& dir,
                            const std::vector<SuppressionRule>& rules, std::ostream& err) {
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, child, 0));
  // refusal() has checked the interval: finite, and short enough for an int of milliseconds.
  const int timeout_ms =
      request.interval_seconds ? static_cast<int>(*request.interval_seconds * 1000) : -1;
  bool writing = true;  // a destination that fails once is said once, not every interval
  while (pidfd >= 0) {
    pollfd ended{pidfd, POLLIN, 0};
    const int ready = ::poll(&ended, 1, timeout_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready != 0) break;
    if (!writing) continue;
    auto outcome = grade_directory(dir, false, rules);
    outcome.running = true;
    writing = write_findings(request, outcome, err);
  }
  if (pidfd >= 0) ::close(pidfd);
  int wait_status = 0;
  while (::waitpid(child, &wait_status, 0) < 0) {
    if (errno != EINTR) return std::nullopt;
  }
  return status_of(wait_status);
}

// Starts the command with the interposer; its pid, or nothing after one line on `err`.
std::optional<pid_t> spawn_traced(const std::vector<std::string>& command,
                                  const std::string& library, const std::string& dir,
                                  std::ostream& err) {
  auto environment = traced_environment(library, dir);
  auto argv = command;
  auto argv_pointers = pointers(argv);
  auto environment_pointers = pointers(environment);
  pid_t child = -1;
  if (const int error = ::posix_spawnp(&child, argv.front().c_str(), nullptr, nullptr,
                                       argv_pointers.data(), environment_pointers.data())) {
    err << "pollscope: trace: " << one_line_text(argv.front()) << ": " << std::strerror(error)
        << "\n";
    return std::nullopt;
  }
  return child;
}

// As system(3) does: Ctrl-C reaches the command (one process group), and pollscope stays to
// grade what it did.
std::optional<int> wait_ignoring_interrupts(pid_t child, const TraceRequest& request,
                                            const std::string& dir,
                                            const std::vector<SuppressionRule>& rules,
                                            std::ostream& err) {
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction old_interrupt {};
  struct sigaction old_quit {};
  ::sigaction(SIGINT, &ignore, &old_interrupt);
  ::sigaction(SIGQUIT, &ignore, &old_quit);
  const auto status = wait_for(child, request, dir, rules, err);
  ::sigaction(SIGINT, &old_interrupt, nullptr);
  ::sigaction(SIGQUIT, &old_quit, nullptr);
  return status;
}

int exit_code_for(const TraceRequest& request, const TraceOutcome& outcome) {
  const auto errors = count_of(outcome.findings, Severity::kError);
  if (request.fail_on_warnings && !outcome.findings.empty()) return kExitThresholdFailed;
  if ((request.fail_on_findings || request.fail_on_warnings) && errors > 0)
    return kExitThresholdFailed;
  return outcome.exit_status.value_or(kExitEnvironment);
}

std::optional<std::string> refusal(const TraceRequest& request) {
  if (request.command.empty()) return "trace: give the command to run after --";
  if (const auto interval = request.interval_seconds;
      interval && !(*interval >= kShortestInterval && *interval <= kLongestInterval)) {
    return fmt::format("--interval: must be {} to {} seconds", kShortestInterval, kLongestInterval);
  }
  const auto program = program_file(request.command.front());
  if (!program) return fmt::format("trace: {}: no such program", request.command.front());
  if (const auto reason = untraceable_reason(*program))
    return fmt::format(
        "trace: {} {}; it cannot be traced (pollscope inspect PID still reads "
        "its registrations from the kernel)",
        *program, *reason);
  return std::nullopt;
}

}  // namespace

std::optional<std::string> interposer_path() {
  if (const char* given = std::getenv(interposer::kLibraryEnv)) return std::string(given);
  std::error_code error;
  const auto self = fs::read_symlink("/proc/self/exe", error);
  const fs::path candidates[] = {self.parent_path().parent_path() / POLLSCOPE_INSTALL_LIBDIR /
                                     "pollscope" / "libpollscope_trace.so",
                                 POLLSCOPE_BUILD_INTERPOSER};
  for (const auto& candidate : candidates) {
    if (fs::exists(candidate, error)) return candidate.string();
  }
  return std::nullopt;
}

int run_trace(const TraceRequest& request, std::ostream& err) {
  if (const auto refused = refusal(request)) {
    err << "pollscope: " << one_line_text(*refused) << "\n";
    return kExitInvalidInput;
  }
  check_destination(request.out_path);  // as `run` does: a bad --out costs no run of the command
  const auto rules = load_suppressions(request.suppress, request.suppression_files);
  const auto library = interposer_path();
  LogDirectory logs;
  if (!library || logs.path().empty()) {
    err << "pollscope: trace: "
        << (library ? "cannot make a temporary directory"
                    : "the interposer libpollscope_trace.so is missing "
                      "(set POLLSCOPE_INTERPOSER)")
        << "\n";
    return kExitEnvironment;
  }
  const auto child = spawn_traced(request.command, *library, logs.path(), err);
  if (!child) return kExitInvalidInput;
  const auto status = wait_ignoring_interrupts(*child, request, logs.path(), rules, err);
  auto outcome = grade_directory(logs.path(), true, rules);
  outcome.exit_status = status;
  if (outcome.processes.empty()) {
    err << "pollscope: trace: the interposer never loaded into "
        << one_line_text(request.command.front())
        << " (a setuid program, or one that clears LD_PRELOAD): nothing was traced\n";
    return kExitEnvironment;
  }
  if (!write_findings(request, outcome, err)) return kExitEnvironment;
  if (!request.quiet) {
    const auto processes = outcome.processes.size();
    err << fmt::format("pollscope trace: {} process{}, {}{}\n", processes,
                       processes == 1 ? "" : "es", severity_tally(outcome.findings),
                       suppressed_text(outcome.suppressed))
        << findings_text(outcome.findings);
  }
  return exit_code_for(request, outcome);
}

}  // namespace pollscope
