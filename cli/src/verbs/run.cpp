#include "verbs/verbs.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <new>
#include <ostream>

#include <fmt/format.h>

#include "capture/pcap_sink.hpp"
#include "capture/wire_matcher.hpp"
#include "cost/process_cost.hpp"
#include "engine/engine.hpp"
#include "io/child_run.hpp"
#include "io/files.hpp"
#include "io/output.hpp"
#include "repeat/repetitions.hpp"
#include "report/report.hpp"
#include "scenario/scenario.hpp"
#include "verbs/run_parts.hpp"

namespace pollscope {

namespace {

std::atomic<bool> stop_requested{false};

extern "C" void request_stop(int) {
  stop_requested.store(true, std::memory_order_relaxed);
}

// SIGINT and SIGTERM end the run cleanly while it is installed, and restore what was there.
class StopSignals {
 public:
  StopSignals() {
    stop_requested = false;
    struct sigaction action {};
    action.sa_handler = request_stop;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGINT, &action, &old_interrupt_);
    ::sigaction(SIGTERM, &action, &old_terminate_);
  }
  ~StopSignals() {
    ::sigaction(SIGINT, &old_interrupt_, nullptr);
    ::sigaction(SIGTERM, &old_terminate_, nullptr);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  struct sigaction old_interrupt_ {};
  struct sigaction old_terminate_ {};
};

std::string iso_time_now() {
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  ::gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

Scenario load(const RunRequest& request) {
  const auto& path = request.scenario_path;
  auto loaded = path
                    ? load_scenario(*path, request.memory_budget_mib)
                    : parse_scenario(nlohmann::json::parse(default_scenario_text(), nullptr, false),
                                     "(built-in default scenario)", request.memory_budget_mib);
  if (auto* problem = std::get_if<Problem>(&loaded)) throw Failure::invalid_input(*problem);
  Scenario scenario = std::get<Scenario>(std::move(loaded));
  if (request.single_thread_polls) scenario.single_thread_polls = true;
  if (request.receive_ahead) scenario.receive_ahead = true;
  return scenario;
}

// Checked once --capture is applied: a capture's rings count against the budget too.
void check_budget(const RunRequest& request, const Scenario& scenario) {
  if (auto problem = check_memory_budget(
          scenario, request.scenario_path.value_or("(built-in default scenario)"),
          request.memory_budget_mib)) {
    throw Failure::invalid_input(*problem);
  }
}

// The baseline of `run --baseline`, read and checked before the run: a baseline that cannot be
// compared with this run is refused before the run, not after it.
nlohmann::json load_checked_baseline(const RunRequest& request, const Scenario& scenario) {
  if (!request.baseline_path) return {};
  auto loaded = load_baseline(*request.baseline_path, scenario_hash(scenario.source),
                              request.scenario_path.value_or("the built-in default scenario"),
                              request.compare);
  if (auto* problem = std::get_if<Problem>(&loaded)) throw Failure::invalid_input(*problem);
  return std::get<nlohmann::json>(std::move(loaded));
}

// The descriptors the scenario needs, asked of the system here so that the error names the
// file; repetitions and the run under callgrind inherit the raised limit.
void raise_descriptor_limit(const RunRequest& request, const Scenario& scenario) {
  if (auto refused = raise_fd_limit(scenario)) {
    throw Failure(kExitEnvironment,
                  Problem{request.scenario_path.value_or("(built-in default scenario)"),
                          "/sockets/count", *refused});
  }
}

RunOutcome run_with_progress(const Scenario& scenario, const RunRequest& request, std::ostream& err,
                             PcapSink* sink) {
  StopSignals signals;
  RunOptions options;
  options.backend = request.backend;
  options.pcap_sink = sink;
  options.capture_records = capture_memory(scenario, request.memory_budget_mib).records;
  options.stop = &stop_requested;
  const bool progress = !request.quiet && ::isatty(STDERR_FILENO) == 1;
  if (progress) {
    options.progress = [&err](const std::string& phase, double seconds, std::uint64_t events) {
      err << fmt::format("\rpollscope: phase {}: {:.0f} s, {} events   ", phase, seconds, events)
          << std::flush;
    };
  }
  struct EndLine {  // the progress line ends, however the run does
    bool on;
    std::ostream& err;
    ~EndLine() {
      if (on) err << "\n";
    }
  } end_line{progress, err};
  CostMeter meter;  // the whole process tree, workers included
  RunOutcome outcome = run_scenario(scenario, options);
  record_cost(meter.stop(), outcome.overall);
  return outcome;
}

// The repetitions' report (repeat/repetitions.hpp), each from a fresh process of this
// executable. Each runs in a process group of its own and a stop here (a Ctrl-C at the terminal,
// or a SIGINT or SIGTERM sent to this process alone) is passed on to it; after a stop, the
// report holds those that ran (the stopped one included) and is marked interrupted, even when
// the stop came between two repetitions and none of them saw it.
nlohmann::json repeated_report(const RunRequest& request, std::ostream& err) {
  StopSignals signals;
  const std::string binary = own_executable();
  const TemporaryDirectory temporary("pollscope-repeat");
  const std::string& directory = temporary.path();
  const ChildControl control{false, std::nullopt, [] { return stop_requested ? SIGINT : 0; }};
  std::vector<nlohmann::json> reports;
  for (int i = 0; i < request.repeat && !stop_requested; ++i) {
    if (!request.quiet)
      err << fmt::format("pollscope: repetition {} of {}\n", i + 1, request.repeat);
    const std::string report = fmt::format("{}/repetition-{}.json", directory, i);
    const int code = run_child(binary, single_run_arguments(request, report), control).code;
    if (code != kExitPassed && code != kExitThresholdFailed && code != kExitInterrupted) {
      throw Failure::environment(
          fmt::format("repetition {} exited with {} (no report)", i + 1, code));
    }
    auto loaded = read_json_file(report);
    if (auto* problem = std::get_if<Problem>(&loaded)) throw Failure::invalid_input(*problem);
    reports.push_back(std::get<JsonFile>(std::move(loaded)).document);
    if (code == kExitInterrupted) break;
  }
  if (reports.empty()) {
    throw Failure(kExitInterrupted, "interrupted before the first repetition: no report");
  }
  nlohmann::json combined = combine_repetitions(reports);
  if (stop_requested && reports.size() < static_cast<std::size_t>(request.repeat)) {
    combined["interrupted"] = true;
    combined["verdict"] = "interrupted";
  }
  return combined;
}

// Compares the report with the baseline, into the report; the summary's lines of it.
std::string compare_with_baseline(const RunRequest& request, const nlohmann::json& baseline,
                                  nlohmann::json& report, const std::string& report_name,
                                  std::ostream& err) {
  auto compared =
      compare_reports(baseline, *request.baseline_path, report, report_name, request.compare);
  // check_baseline checked all of it on the baseline's side, and this report is well formed.
  if (auto* problem = std::get_if<Problem>(&compared)) throw Failure::invalid_input(*problem);
  const auto& comparison = std::get<ReportComparison>(compared);
  for (const std::string& warning : comparison.warnings) {
    err << "pollscope: warning: " << warning << "\n";
  }
  report["baseline"] = to_json(comparison);
  if (comparison.regressed()) report["verdict"] = "fail";
  return comparison_summary(report["baseline"], "  baseline: ");
}

// The packets --pcap-out keeps stay in memory until the run ends, on top of what the phases
// buffer: its limit is the smaller of PcapSink's cap and what the memory budget leaves once the
// most demanding phase is counted, so that the run as a whole keeps within --memory-budget.
// A test seam, POLLSCOPE_PCAP_MOST_BYTES, lowers it further, so that a test sees what happens
// past it without capturing 512 MiB.
std::size_t pcap_most_bytes(const Scenario& scenario, const RunRequest& request) {
  const std::size_t most = static_cast<std::size_t>(std::min<std::uint64_t>(
      PcapSink::kMostBytes, budget_left(scenario, request.memory_budget_mib)));
  const char* given = std::getenv("POLLSCOPE_PCAP_MOST_BYTES");
  std::size_t bytes = 0;
  if (given == nullptr ||
      std::from_chars(given, given + std::strlen(given), bytes).ec != std::errc{}) {
    return most;
  }
  return std::min(bytes, most);
}

// What a capture's limits left out, counted in the report, said on stderr too (even with
// --quiet): a pcap or a match that silently stops is a wrong answer.
void warn_of_capture_limits(const nlohmann::json& report, const PcapSink& sink,
                            std::uint64_t most_records, std::ostream& err) {
  const auto& overall = report.at("overall");
  const auto capture = overall.find("capture");
  if (capture == overall.end()) return;
  if (const auto n = capture->value("pcap_packets_left_out", std::uint64_t{0}); n > 0) {
    err << fmt::format(
        "pollscope: warning: --pcap-out: {} packet(s) left out of the file, {} "
        "(capture.pcap_packets_left_out)\n",
        n,
        sink.ran_out_of_memory()
            ? "once memory ran out"
            : fmt::format("past its limit of {} bytes (the smaller of {} MiB and what "
                          "--memory-budget leaves)",
                          sink.most_bytes(), PcapSink::kMostBytes >> 20));
  }
  if (const auto n = capture->value("messages_over_limit", std::uint64_t{0}); n > 0) {
    err << fmt::format(
        "pollscope: warning: --capture: {} message(s) not matched to a packet, past the limit of "
        "{} a phase and poller, the smaller of {} and what --memory-budget leaves "
        "(capture.messages_over_limit)\n",
        n, most_records, WireMatcher::kMostRecords);
  }
  if (const auto n = capture->value("unmatched_messages", std::uint64_t{0}); n > 0) {
    err << fmt::format(
        "pollscope: warning: --capture: {} message(s) not matched to a packet: their packets were "
        "dropped (capture.kernel_drops: {}) or their TCP flow lost its step after a packet missed "
        "or cut short (capture.unmatched_messages)\n",
        n, capture->value("kernel_drops", std::uint64_t{0}));
  }
}

}  // namespace

std::vector<std::string> single_run_arguments(const RunRequest& request,
                                              const std::string& report) {
  std::vector<std::string> args = {
      "run",  "--quiet",         "--out",
      report, "--memory-budget", std::to_string(request.memory_budget_mib)};
  if (request.backend) {
    args.insert(args.end(), {"--backend", std::string(libpoll::to_string(*request.backend))});
  }
  if (request.single_thread_polls) args.push_back("--single-thread-polls");
  if (request.receive_ahead) args.push_back("--receive-ahead");
  if (request.instructions) args.push_back("--instructions");
  if (request.capture_interface) args.push_back("--capture=" + *request.capture_interface);
  if (request.scenario_path) args.push_back(*request.scenario_path);
  return args;
}

namespace {

// A test seam: POLLSCOPE_INJECT_FAILURE=memory runs out of memory where the run's files are
// written, with their temporary files open.
void injected_memory_failure() {
  const char* wanted = std::getenv("POLLSCOPE_INJECT_FAILURE");
  if (wanted != nullptr && std::strcmp(wanted, "memory") == 0) throw std::bad_alloc();
}

int run_once(const RunRequest& request, std::ostream& out, std::ostream& err) {
  check_stdin_read_once(request);
  Scenario scenario = load(request);
  apply_capture(request, scenario);
  check_budget(request, scenario);
  const nlohmann::json baseline = load_checked_baseline(request, scenario);
  raise_descriptor_limit(request, scenario);
  OutputFile output = OutputFile::open(request.out_path);  // before any socket: never a wasted run
  std::optional<OutputFile> pcap_output;
  if (request.pcap_out_path)
    pcap_output.emplace(OutputFile::open(request.pcap_out_path, "--pcap-out"));
  PcapSink sink(pcap_most_bytes(scenario, request));
  nlohmann::json report;
  std::optional<std::string> failure;
  if (request.repeat > 1) {
    report = repeated_report(request, err);
  } else if (request.instructions && !inside_callgrind()) {
    report = run_under_callgrind(request);
  } else {
    const std::string start_time = iso_time_now();
    const RunOutcome outcome =
        run_with_progress(scenario, request, err, pcap_output ? &sink : nullptr);
    report = make_report(scenario, outcome, start_time);
    failure = worker_failure(outcome);
  }
  std::string compared;
  if (request.baseline_path && !report.at("interrupted").get<bool>()) {
    compared = compare_with_baseline(request, baseline, report, output.name(), err);
  }
  injected_failure_point("io");
  injected_memory_failure();
  output.write(report.dump(2) + "\n", out);
  if (pcap_output) pcap_output->write(sink.file(), out);  // in pieces: no copy of the packets
  warn_of_capture_limits(report, sink, capture_memory(scenario, request.memory_budget_mib).records,
                         err);
  if (!request.quiet) err << human_summary(report, compared);
  if (failure) throw Failure::environment(*failure);

  const auto verdict = verdict_of(report);
  if (verdict.interrupted) return kExitInterrupted;
  return verdict.thresholds_passed ? kExitPassed : kExitThresholdFailed;
}

}  // namespace

// Memory that ran out ends the run as any failure of the machine does: exit 3, one line. The
// run's locals are gone by the time it is caught, their temporary files removed.
int run_command(const RunRequest& request, std::ostream& out, std::ostream& err) {
  try {
    return run_once(request, out, err);
  } catch (const std::bad_alloc&) {
    throw Failure::environment(
        "out of memory: the run stopped, and what it had not written was left out "
        "(--memory-budget bounds what a scenario and --pcap-out keep)");
  }
}

}  // namespace pollscope
