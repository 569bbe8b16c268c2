// The report's context block, and the scenario's hash in it.

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include <fmt/format.h>

#include "build_revision.hpp"  // generated at build time: POLLSCOPE_GIT_REVISION
#include "libpoll/version.hpp"
#include "report/report.hpp"

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

// getrusage's peak resident memory of every process: the parent (the only one without workers),
// each worker as its parent reaped it, and their sum.
nlohmann::json peak_rss_block(const RunOutcome& outcome) {
  nlohmann::json block{{"process", outcome.peak_rss_kib}, {"workers", nlohmann::json::array()}};
  std::uint64_t total = outcome.peak_rss_kib;
  for (const WorkerEnd& end : outcome.workers) {
    block["workers"].push_back(end.peak_rss_kib);
    total += end.peak_rss_kib;
  }
  block["total"] = total;
  return block;
}

nlohmann::json worker_ends_block(const RunOutcome& outcome) {
  nlohmann::json ends = nlohmann::json::array();
  for (const WorkerEnd& end : outcome.workers) {
    ends.push_back(
        {{"index", end.index}, {"pid", end.pid}, {"how", end.how}, {"failed", end.failed}});
  }
  return ends;
}

// What each replay phase replayed, by phase name; null when none does.
nlohmann::json replay_block(const Scenario& scenario) {
  nlohmann::json block;
  for (const Phase& phase : scenario.phases) {
    const Replay* replay = replay_of(phase);
    if (replay == nullptr || !replay->trace) continue;
    const ReplayTrace& trace = *replay->trace;
    block[phase.name] = {
        {"pcap", trace.file},
        {"speed", replay->speed},
        {"packets", trace.packets},
        {"flows", trace.flows},
        {"pairs", std::min<std::uint64_t>(trace.flows, scenario.sockets.active)},
        {"messages", trace.messages.size()},
        {"payload_bytes", trace.bytes},
        {"reverse_packets", trace.reverse_packets},
        {"schedule_s", static_cast<double>(trace.span_ns()) / replay->speed / 1e9}};
  }
  return block;
}

}  // namespace

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
  context["single_thread_polls"] = scenario.single_thread_polls;
  context["receive_ahead"] = scenario.receive_ahead;
  context["clock"] = outcome.clock;
  context["peer"] = std::string(to_string(scenario.sockets.peer));
  context["workers"] = scenario.workers;
  context["scenario"] = scenario.name;
  context["scenario_hash"] = scenario_hash(scenario.source);
  context["start_time"] = start_time;
  context["peak_rss_kib"] = peak_rss_block(outcome);
  if (!outcome.workers.empty()) context["worker_ends"] = worker_ends_block(outcome);
  if (auto replay = replay_block(scenario); !replay.is_null())
    context["replay"] = std::move(replay);
  return context;
}

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

}  // namespace pollscope
