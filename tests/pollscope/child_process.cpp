// Running the pollscope binary from a test: see child_process.hpp.

#include "child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <utility>

extern char** environ;

namespace pollscope::test_support {

namespace fs = std::filesystem;
using json = nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

// Appends what `fd` holds now; closes it (and sets it to -1) at end of file.
void drain(int& fd, std::string& text) {
  if (fd < 0) return;
  char buffer[65536];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) {
      text.append(buffer, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
      ::close(fd);
      fd = -1;
    }
    return;
  }
}

}  // namespace

void sleep_briefly(milliseconds interval) {
  timespec pause{};
  pause.tv_nsec = static_cast<long>(interval.count()) * 1'000'000L;
  while (::nanosleep(&pause, &pause) != 0 && errno == EINTR) {
  }
}

Child::Child(const std::vector<std::string>& argv) {
  int out[2] = {-1, -1};
  int err[2] = {-1, -1};
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    spawn_error_ = std::string("pipe2: ") + std::strerror(errno);
    for (int fd : {out[0], out[1], err[0], err[1]}) {
      if (fd >= 0) ::close(fd);
    }
    return;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
  // Nothing else the test process has open (the runner's descriptors) reaches the child.
  posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
#endif
  // The child starts with the default dispositions and no blocked signal, whatever the test
  // runner was started with (a shell running it in the background ignores SIGINT).
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int signal : {SIGINT, SIGTERM, SIGPIPE, SIGHUP}) sigaddset(&defaults, signal);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attributes, &none);
  // In a process group of its own, so that a timeout kills whatever it started too.
  posix_spawnattr_setpgroup(&attributes, 0);
  posix_spawnattr_setflags(&attributes,
                           POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);

  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const int error = ::posix_spawnp(&pid_, args[0], &actions, &attributes, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  ::close(out[1]);
  ::close(err[1]);
  if (error != 0) {
    spawn_error_ = argv[0] + ": cannot start: " + std::strerror(error);
    pid_ = -1;
    ::close(out[0]);
    ::close(err[0]);
    return;
  }
  out_ = out[0];
  err_ = err[0];
  for (int fd : {out_, err_}) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
#ifdef SYS_pidfd_open
  pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
#endif
}

Child::~Child() {
  if (pid_ > 0 && !reaped_) {
    ::kill(-pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  for (int fd : {out_, err_, pidfd_}) {
    if (fd >= 0) ::close(fd);
  }
}

Outcome Child::wait(milliseconds limit) {
  Outcome outcome;
  outcome.started = started();
  if (!started()) {
    outcome.err = spawn_error_;
    return outcome;
  }
  const auto deadline = steady_clock::now() + limit;
  int status = 0;
  while (out_ >= 0 || err_ >= 0 || !reaped_) {
    const auto left =
        std::chrono::duration_cast<milliseconds>(deadline - steady_clock::now()).count();
    if (left <= 0) {
      outcome.timed_out = true;
      break;
    }
    std::vector<pollfd> watched;
    for (int fd : {out_, err_}) {
      if (fd >= 0) watched.push_back({fd, POLLIN, 0});
    }
    if (!reaped_ && pidfd_ >= 0) watched.push_back({pidfd_, POLLIN, 0});
    // Without a pidfd the child's end is only seen by asking, every few milliseconds.
    const int timeout =
        pidfd_ >= 0 ? static_cast<int>(left) : static_cast<int>(std::min<long long>(left, 5));
    if (::poll(watched.data(), watched.size(), timeout) < 0 && errno != EINTR) {
      ADD_FAILURE() << "poll: " << std::strerror(errno);
      outcome.timed_out = true;
      break;
    }
    drain(out_, outcome.out);
    drain(err_, outcome.err);
    if (!reaped_) {
      const pid_t ended = ::waitpid(pid_, &status, WNOHANG);
      if (ended == pid_) reaped_ = true;
    }
  }
  if (outcome.timed_out) {
    // The child, or what it started and that still holds its output.
    ::kill(-pid_, SIGKILL);
    if (!reaped_) {
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      reaped_ = true;
      return outcome;
    }
  }
  outcome.exited = WIFEXITED(status);
  if (outcome.exited) outcome.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) outcome.signal = WTERMSIG(status);
  return outcome;
}

Outcome run_program(const std::vector<std::string>& argv, milliseconds limit) {
  Child child(argv);
  return child.wait(limit);
}

Outcome pollscope(const std::vector<std::string>& args, milliseconds limit) {
  std::vector<std::string> argv{POLLSCOPE_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_program(argv, limit);
}

std::string describe(const Outcome& outcome) {
  std::string text;
  if (!outcome.started) return "did not start: " + outcome.err;
  if (outcome.timed_out && outcome.exited) {
    text = "exited with " + std::to_string(outcome.exit_code) +
           ", but its output stayed open past the time limit (something it started holds it)";
  } else if (outcome.timed_out) {
    text = "timed out and was killed";
  } else if (!outcome.exited) {
    text = "was killed by signal " + std::to_string(outcome.signal) + " (" +
           strsignal(outcome.signal) + ")";
  } else {
    text = "exited with " + std::to_string(outcome.exit_code);
  }
  return text + "\n--- stderr:\n" + outcome.err + "--- stdout (" +
         std::to_string(outcome.out.size()) + " bytes):\n" + outcome.out.substr(0, 2000);
}

::testing::AssertionResult exited_with(const Outcome& outcome, int code) {
  if (outcome.started && !outcome.timed_out && outcome.exited && outcome.exit_code == code) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "wanted exit code " << code << ", but it " << describe(outcome);
}

::testing::AssertionResult one_line(const std::string& text) {
  if (!text.empty() && text.back() == '\n' && std::count(text.begin(), text.end(), '\n') == 1) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "not exactly one line: \"" << text << "\"";
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

std::string read_file(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

json parse_report(const std::string& text) {
  json report = json::parse(text, nullptr, false);
  if (report.is_discarded()) {
    ADD_FAILURE() << "the report is not JSON: " << text.substr(0, 2000);
    return json();
  }
  return report;
}

::testing::AssertionResult ran_but_for_latency(const Outcome& outcome, const std::string& report) {
  if (exited_with(outcome, 0)) return ::testing::AssertionSuccess();
  if (!exited_with(outcome, 1) || !std::filesystem::exists(report)) {
    return ::testing::AssertionFailure() << describe(outcome);
  }
  const json document = json::parse(read_file(report), nullptr, false);
  if (document.is_discarded() || !document.contains("thresholds")) {
    return ::testing::AssertionFailure() << "exit 1 without thresholds in " << report;
  }
  for (const json& threshold : document.at("thresholds")) {
    if (threshold.value("pass", false)) continue;
    if (threshold.value("metric", "").rfind("latency_ns", 0) != 0) {
      return ::testing::AssertionFailure() << "failed threshold: " << threshold.dump();
    }
  }
  return ::testing::AssertionSuccess();
}

TempDir::TempDir() {
  std::string pattern = (fs::temp_directory_path() / "pollscope_cli_XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp: " << std::strerror(errno);
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

std::string TempDir::write(const std::string& name, const std::string& text) const {
  const fs::path file = path_ / name;
  std::ofstream(file, std::ios::binary) << text;
  return file.string();
}

std::set<std::string> TempDir::entries() const {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(path_)) {
    names.insert(entry.path().filename().string());
  }
  return names;
}

bool have_jsonschema() {
  static const bool have = [] {
    const Outcome outcome = run_program({"python3", "-c", "import jsonschema"});
    return outcome.started && outcome.exited && outcome.exit_code == 0;
  }();
  return have;
}

void expect_valid_against(const fs::path& schema, const std::string& path) {
  if (!have_jsonschema()) {
    std::cerr << "note: python3 -c 'import jsonschema' fails: " << path << " not checked against "
              << schema.filename().string() << " (scripts/setup.sh installs python3-jsonschema)\n";
    return;
  }
  const Outcome outcome = run_program({"python3", kValidateReport.string(), schema.string(), path});
  EXPECT_TRUE(exited_with(outcome, 0));
}

}  // namespace pollscope::test_support
