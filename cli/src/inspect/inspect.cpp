#include "inspect/inspect.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ostream>
#include <thread>

#include <fmt/format.h>

#include "base/exit_code.hpp"
#include "io/files.hpp"
#include "io/output.hpp"

namespace pollscope {

namespace {

// A process that cannot be inspected: the exit code and the one line that says why.
struct InspectFailure {
  int exit_code;
  std::string message;
};

InspectFailure failure_for(pid_t pid, std::error_code error) {
  if (error == std::errc::no_such_file_or_directory || error == std::errc::no_such_process)
    return {kExitInvalidInput, fmt::format("inspect: no process {}", pid)};
  if (error == std::errc::permission_denied || error == std::errc::operation_not_permitted)
    return {kExitEnvironment,
            fmt::format("inspect: process {}: permission denied: reading another process's "
                        "descriptors needs the same user or CAP_SYS_PTRACE",
                        pid)};
  return {kExitEnvironment, fmt::format("inspect: process {}: {}", pid, error.message())};
}

// One process's epoll sets, classified.
std::optional<InspectFailure> view_process(pid_t pid, ProcessView& view,
                                           std::vector<Finding>& findings) {
  if (const auto error = read_process_files(pid, view.files)) return failure_for(pid, error);
  if (const auto error = read_epoll_sets(view.files, view.sets, findings))
    return failure_for(pid, error);
  return std::nullopt;
}

std::optional<InspectFailure> sample(const InspectRequest& request, const std::vector<pid_t>& pids,
                                     InspectOutcome& outcome) {
  outcome.processes.clear();
  outcome.findings.clear();
  outcome.unreadable = 0;
  for (const pid_t pid : pids) {
    ProcessView view;
    std::vector<Finding> found;
    if (auto failure = view_process(pid, view, found)) {
      if (!request.all) return failure;
      outcome.unreadable += failure->exit_code == kExitEnvironment;
      continue;  // --all: gone, or not ours to read
    }
    if (request.all && view.sets.empty()) continue;
    outcome.findings.insert(outcome.findings.end(), found.begin(), found.end());
    outcome.processes.push_back(std::move(view));
  }
  return std::nullopt;
}

void record_sizes(const InspectOutcome& sampled, double time_s,
                  std::vector<SetHistory>& histories) {
  for (const auto& process : sampled.processes) {
    for (const auto& set : process.sets) {
      auto it = std::find_if(histories.begin(), histories.end(), [&](const SetHistory& h) {
        return h.pid == set.pid && h.epoll_fd == set.epoll_fd;
      });
      if (it == histories.end())
        it = histories.insert(histories.end(), SetHistory{set.pid, set.epoll_fd, {}, {}});
      it->times_s.push_back(time_s);
      it->sizes.push_back(set.registrations.size());
    }
  }
}

std::optional<InspectFailure> inspect(const InspectRequest& request, InspectOutcome& outcome) {
  const auto pids = request.all ? every_process() : request.pids;
  const int samples = request.watch_seconds ? std::max(request.samples, 1) : 1;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < samples; ++i) {
    // The interval between samples is what --watch asks for; nothing waits on it.
    if (i > 0) std::this_thread::sleep_for(std::chrono::duration<double>(*request.watch_seconds));
    if (auto failure = sample(request, pids, outcome)) return failure;
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    if (request.watch_seconds) record_sizes(outcome, elapsed.count(), outcome.histories);
  }
  find_growth(outcome.histories, outcome.findings);
  const auto program_of = [&](pid_t pid) {
    for (const auto& process : outcome.processes)
      if (process.files.pid == pid) return process.files.command;
    return std::string();
  };
  outcome.suppressed = suppress(outcome.suppressions, program_of, outcome.findings);
  return std::nullopt;
}

int exit_code_for(const InspectRequest& request, const std::vector<Finding>& findings) {
  if (request.fail_on_warnings && !findings.empty()) return kExitThresholdFailed;
  if ((request.fail_on_findings || request.fail_on_warnings) &&
      count_of(findings, Severity::kError) > 0)
    return kExitThresholdFailed;
  return kExitPassed;
}

}  // namespace

std::error_code read_epoll_sets(const ProcessFiles& files, std::vector<EpollSetView>& sets,
                                std::vector<Finding>& findings) {
  for (const auto& [fd, target] : files.fds) {
    if (!names_epoll(target)) continue;
    auto kernel = libpoll::read_epoll_fdinfo(files.pid, fd);
    if (!kernel) {
      // Closed since the listing (ENOENT), or the number reused for a file that is no epoll set
      // (EINVAL: a busy program tore its loop down and opened a pipe meanwhile).
      if (kernel.error() == std::errc::no_such_file_or_directory ||
          kernel.error() == std::errc::invalid_argument)
        continue;
      return kernel.error();
    }
    // Reused between the check and the read, a pipe's fdinfo reads as an empty set: the number
    // must still name an epoll set after the read.
    if (!names_epoll(read_descriptor(files.pid, fd))) continue;
    sets.push_back(classify_epoll_set(files, fd, *kernel, findings));
  }
  return {};
}

void find_growth(const std::vector<SetHistory>& histories, std::vector<Finding>& findings) {
  for (const auto& history : histories) {
    const auto& sizes = history.sizes;
    if (sizes.size() < 3 || sizes.back() <= sizes.front()) continue;
    if (!std::is_sorted(sizes.begin(), sizes.end())) continue;
    const double span = history.times_s.back() - history.times_s.front();
    Finding finding;
    finding.kind = "growing";
    finding.severity = Severity::kError;
    finding.pid = history.pid;
    finding.epoll_fd = history.epoll_fd;
    finding.detail = fmt::format(
        "the set grew from {} to {} registrations over {} samples ({:.1f} per second) and never "
        "shrank",
        sizes.front(), sizes.back(), sizes.size(),
        span > 0 ? static_cast<double>(sizes.back() - sizes.front()) / span : 0.0);
    findings.push_back(std::move(finding));
  }
}

int run_inspect(const InspectRequest& request, std::ostream& out, std::ostream& err) {
  if (request.pids.empty() && !request.all) {
    err << "pollscope: inspect: give one or more PIDs, or --all\n";
    return kExitInvalidInput;
  }
  // Checked here too, not only by the command line: a NaN or infinite interval is undefined
  // behaviour in sleep_for (its conversion to whole ticks).
  if (const auto watch = request.watch_seconds;
      watch && !(*watch >= kShortestWatch && *watch <= kLongestWatch)) {
    err << fmt::format("pollscope: inspect: --watch: must be {} to {} seconds, got {}\n",
                       kShortestWatch, kLongestWatch, *watch);
    return kExitInvalidInput;
  }
  // As trace and run do: an --out that cannot be written costs no sampling (a --watch of
  // minutes); a Failure, one line, exit 2 or 3.
  if (request.out_path) check_destination(request.out_path);
  InspectOutcome outcome;
  outcome.suppressions = load_suppressions(request.suppress, request.suppression_files);
  if (const auto failure = inspect(request, outcome)) {
    err << "pollscope: " << failure->message << "\n";
    return failure->exit_code;
  }
  if (request.json || request.out_path) {
    // A file name is any bytes but JSON's strings are UTF-8: a byte that is not becomes U+FFFD
    // (strict, the dump threw, and the whole inspection was lost).
    const auto text =
        inspect_document(outcome).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) +
        "\n";
    write_document(text, request.out_path, out);
  }
  if (!request.json) {
    // The text on stdout is the report, written and checked as the JSON is (a full disk is exit
    // 3); beside --out it is a summary on stderr.
    if (request.out_path)
      err << inspect_text(outcome);
    else
      write_document(inspect_text(outcome), std::nullopt, out);
  }
  return exit_code_for(request, outcome.findings);
}

}  // namespace pollscope
