#include "report.hpp"

#include <fcntl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <ostream>
#include <stdexcept>

#include <fmt/format.h>

#include "compare.hpp"
#include "json_text.hpp"
#include "libpoll/version.hpp"

namespace pollscope {

namespace {

std::string first_line_of(const char* path, const char* prefix) {
  std::ifstream file(path);
  std::string line;
  while (std::getline(file, line)) {
    if (line.rfind(prefix, 0) == 0) {
      const auto colon = line.find(':');
      if (colon == std::string::npos) return line;
      const auto start = line.find_first_not_of(" \t", colon + 1);
      return start == std::string::npos ? "" : line.substr(start);
    }
  }
  return "";
}

nlohmann::json context_block(const Scenario& scenario, const RunOutcome& outcome,
                             const std::string& start_time) {
  utsname names{};
  ::uname(&names);
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  nlohmann::json context;
  context["host"] = host;
  context["kernel"] = std::string(names.sysname) + " " + names.release;
  context["cpu"] = first_line_of("/proc/cpuinfo", "model name");
  context["cpus"] = ::sysconf(_SC_NPROCESSORS_ONLN);
#if defined(__clang__)
  context["compiler"] =
      fmt::format("clang {}.{}.{}", __clang_major__, __clang_minor__, __clang_patchlevel__);
#elif defined(__GNUC__)
  context["compiler"] = fmt::format("gcc {}.{}.{}", __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__);
#else
  context["compiler"] = "unknown";
#endif
  context["build_type"] = POLLSCOPE_BUILD_TYPE;
  context["git_revision"] = POLLSCOPE_GIT_REVISION;
  context["libpoll_version"] = libpoll::version;
  context["backend"] = outcome.backend;
  context["clock"] = outcome.clock;
  context["workers"] = scenario.workers;
  context["scenario"] = scenario.name;
  context["scenario_hash"] = scenario_hash(scenario.source);
  context["start_time"] = start_time;
  return context;
}

nlohmann::json figures_block(const Figures& figures) {
  nlohmann::json block;
  block["duration_s"] = finite_or_zero(figures.seconds);
  block["events"] = figures.events;
  block["messages"] = figures.messages;
  block["events_per_second"] = finite_or_zero(
      figures.seconds > 0 ? static_cast<double>(figures.events) / figures.seconds : 0);
  block["messages_per_second"] = finite_or_zero(
      figures.seconds > 0 ? static_cast<double>(figures.messages) / figures.seconds : 0);
  if (figures.target_rate > 0) {
    block["target_rate_per_second"] = finite_or_zero(figures.target_rate);
    block["achieved_rate_ratio"] =
        finite_or_zero(figures.seconds > 0 ? static_cast<double>(figures.sent) / figures.seconds /
                                                 figures.target_rate
                                           : 0);
  } else {
    block["achieved_rate_ratio"] = 1.0;  // closed loop: whatever rate it reached is the target
  }
  block["late_sends"] = figures.late_sends;
  block["latency_ns"] = figures.latency.summary();
  block["uncorrected_latency_ns"] = figures.uncorrected.summary();
  block["spurious_events"] = figures.spurious_events;
  block["missed_events"] = figures.missed_events;
  block["correct"] = figures.spurious_events == 0 && figures.missed_events == 0;
  block["ghost_events"] = figures.ghost_events;
  block["peer_resets_observed"] = figures.peer_resets_observed;
  block["toggles"] = figures.toggles;
  return block;
}

const char* kLeakKinds[] = {"leaked",         "vanished",        "zombie",
                            "interest_drift", "token_collision", "duplicate_target"};

nlohmann::json leaks_block(const std::vector<LeakFinding>& leaks) {
  nlohmann::json block;
  std::uint64_t total = 0;
  for (const char* kind : kLeakKinds) {
    std::uint64_t count = 0;
    for (const auto& leak : leaks) count += leak.kind == kind;
    block[kind] = count;
    total += count;
  }
  block["total"] = total;
  block["details"] = nlohmann::json::array();
  for (const auto& leak : leaks) {
    block["details"].push_back({{"kind", leak.kind},
                                {"fd", leak.fd},
                                {"token", leak.token},
                                {"interest", leak.interest},
                                {"site", leak.site},
                                {"detail", leak.detail}});
  }
  return block;
}

bool compare(double actual, Comparison comparison, double limit) {
  switch (comparison) {
    case Comparison::less:
      return actual < limit;
    case Comparison::less_equal:
      return actual <= limit;
    case Comparison::greater:
      return actual > limit;
    case Comparison::greater_equal:
      return actual >= limit;
    case Comparison::equal:
      return actual == limit;
  }
  return false;
}

}  // namespace

// FNV-1a, 64 bits, of the scenario as run (its canonical JSON): enough to tell two runs of
// different scenarios apart in a baseline comparison.
std::string scenario_hash(const nlohmann::json& source) {
  std::uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : source.dump()) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return fmt::format("fnv1a64:{:016x}", hash);
}

nlohmann::json make_report(const Scenario& scenario, const RunOutcome& outcome,
                           const std::string& start_time) {
  nlohmann::json report;
  report["format"] = kReportFormat;
  report["tool"] = "pollscope";
  report["context"] = context_block(scenario, outcome, start_time);
  report["phases"] = nlohmann::json::array();
  for (const auto& phase : outcome.phases) {
    auto block = figures_block(phase.figures);
    block["name"] = phase.name;
    if (phase.leak_checked) block["leaks"] = leaks_block(phase.leaks);
    report["phases"].push_back(std::move(block));
  }
  auto overall = figures_block(outcome.overall);
  overall["registry_ns"] = {{"register", outcome.register_ns.summary()},
                            {"reregister", outcome.reregister_ns.summary()},
                            {"deregister", outcome.deregister_ns.summary()}};
  overall["loop"] = {
      {"polls", outcome.polls},
      {"events_per_poll",
       finite_or_zero(outcome.polls > 0 ? static_cast<double>(outcome.overall.events) /
                                              static_cast<double>(outcome.polls)
                                        : 0)},
      {"ghost_events", outcome.ghost_events},
      {"registers", outcome.registers},
      {"reregisters", outcome.reregisters},
      {"deregisters", outcome.deregisters},
      {"busy_ratio",
       finite_or_zero(
           outcome.measured_seconds > 0
               ? std::clamp(1.0 - outcome.blocked_seconds / outcome.measured_seconds, 0.0, 1.0)
               : 0)}};
  overall["overhead_ns_per_event"] = finite_or_zero(outcome.overhead_ns_per_event);
  report["overall"] = std::move(overall);
  report["leaks"] = leaks_block(outcome.leaks);

  bool passed = true;
  report["thresholds"] = nlohmann::json::array();
  for (const Threshold& threshold : scenario.thresholds) {
    const auto actual = figure(report, threshold.metric);
    const bool pass = actual && compare(*actual, threshold.comparison, threshold.value);
    passed = passed && pass;
    report["thresholds"].push_back({{"threshold", threshold.text},
                                    {"metric", threshold.metric},
                                    {"actual", actual ? finite_or_zero(*actual) : 0.0},
                                    {"pass", pass}});
  }
  report["interrupted"] = outcome.interrupted;
  report["verdict"] = outcome.interrupted ? "interrupted" : (passed ? "pass" : "fail");
  return report;
}

Verdict verdict_of(const nlohmann::json& report) {
  Verdict verdict;
  verdict.interrupted = report.value("interrupted", false);
  verdict.thresholds_passed = report.value("verdict", "fail") != "fail";
  for (const auto& threshold : report.value("thresholds", nlohmann::json::array())) {
    if (!threshold.value("pass", false)) verdict.thresholds_passed = false;
  }
  return verdict;
}

std::optional<double> figure(const nlohmann::json& report, const std::string& name) {
  // Overall figures live under "overall", except the leak counts; per-phase ones under the
  // phase of that name.
  const nlohmann::json* node = nullptr;
  std::string rest = name;
  if (name.rfind("phases.", 0) == 0) {
    const auto dot = name.find('.', 7);
    if (dot == std::string::npos) return std::nullopt;
    const auto phase_name = name.substr(7, dot - 7);
    for (const auto& phase : report.at("phases")) {
      if (phase.value("name", "") == phase_name) node = &phase;
    }
    rest = name.substr(dot + 1);
  } else if (name.rfind("leaks.", 0) == 0) {
    node = &report.at("leaks");
    rest = name.substr(6);
  } else {
    node = &report.at("overall");
  }
  if (node == nullptr) return std::nullopt;
  std::size_t start = 0;
  while (true) {
    const auto dot = rest.find('.', start);
    const auto key = rest.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!node->is_object() || !node->contains(key)) return std::nullopt;
    node = &(*node)[key];
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (node->is_boolean()) return node->get<bool>() ? 1.0 : 0.0;
  if (!node->is_number()) return std::nullopt;
  return node->get<double>();
}

std::string human_summary(const nlohmann::json& report) {
  const auto& overall = report.at("overall");
  const auto& latency = overall.at("latency_ns");
  std::string text = fmt::format(
      "pollscope: {} on {} ({} worker(s)): {} events in {:.2f} s, {:.0f} events/s\n",
      report.at("context").at("scenario").get<std::string>(),
      report.at("context").at("backend").get<std::string>(),
      report.at("context").at("workers").get<int>(), overall.at("events").get<std::uint64_t>(),
      overall.at("duration_s").get<double>(), overall.at("events_per_second").get<double>());
  text += fmt::format(
      "  latency: p50 {:.1f} us, p99 {:.1f} us, p99.9 {:.1f} us, max {:.1f} us; overhead {:.0f} "
      "ns/event\n",
      latency.at("p50").get<double>() / 1e3, latency.at("p99").get<double>() / 1e3,
      latency.at("p99_9").get<double>() / 1e3, latency.at("max").get<double>() / 1e3,
      overall.at("overhead_ns_per_event").get<double>());
  text += fmt::format(
      "  correctness: {} spurious, {} missed, {} ghost events ({} for tokens libpoll's book "
      "no longer holds)\n",
      overall.at("spurious_events").get<std::uint64_t>(),
      overall.at("missed_events").get<std::uint64_t>(),
      overall.at("ghost_events").get<std::uint64_t>(),
      overall.at("loop").at("ghost_events").get<std::uint64_t>());
  const auto& leaks = report.at("leaks");
  text += fmt::format(
      "  leak check: {} leaked, {} vanished, {} zombie, {} drifted ({} total)\n",
      leaks.at("leaked").get<std::uint64_t>(), leaks.at("vanished").get<std::uint64_t>(),
      leaks.at("zombie").get<std::uint64_t>(), leaks.at("interest_drift").get<std::uint64_t>(),
      leaks.at("total").get<std::uint64_t>());
  for (const auto& threshold : report.at("thresholds")) {
    text += fmt::format(
        "  threshold {}: {} (actual {})\n", threshold.at("threshold").get<std::string>(),
        threshold.at("pass").get<bool>() ? "pass" : "FAIL", threshold.at("actual").get<double>());
  }
  if (report.contains("baseline")) {
    text += comparison_summary(report.at("baseline"), "  baseline: ");
  }
  text += fmt::format("  verdict: {}\n", report.at("verdict").get<std::string>());
  return text;
}

void write_atomically(const std::string& path, const std::string& text) {
  const std::string temporary = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(path + ": cannot write: " + std::strerror(errno));
  std::size_t written = 0;
  while (written < text.size()) {
    const auto n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = errno;
      ::close(fd);
      ::unlink(temporary.c_str());
      throw std::runtime_error(path + ": cannot write: " + std::strerror(error));
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const int error = errno;
    ::unlink(temporary.c_str());
    throw std::runtime_error(path + ": cannot write: " + std::strerror(error));
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temporary.c_str());
    throw std::runtime_error(path + ": cannot write: " + std::strerror(error));
  }
}

bool write_document(const std::string& text, const std::optional<std::string>& out_path,
                    std::ostream& out, std::ostream& err) {
  if (!out_path) {
    out << text << std::flush;
    return true;
  }
  try {
    write_atomically(*out_path, text);
    return true;
  } catch (const std::exception& error) {
    err << "pollscope: " << error.what() << "\n";
    return false;
  }
}

}  // namespace pollscope
