// A replay's pcap, read when its scenario is loaded: a bad file is refused at validation, as any
// other mistake in the scenario, and the run uses the schedule read then.

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "scenario/checker.hpp"

namespace pollscope {

namespace {

constexpr std::uint64_t kLongestPhaseMs = 3600000;  // as duration_ms

// "7200", or "1e+300" for a length no one would count in digits.
std::string seconds_text(double seconds) {
  if (!std::isfinite(seconds)) return "more than 1e+308";
  return seconds < 1e12 ? fmt::format("{:.0f}", seconds) : fmt::format("{:.3g}", seconds);
}

// The problem with replaying `trace` on `scenario`'s pairs in `phase`, if any.
std::optional<std::string> unfit(const Scenario& scenario, const Phase& phase,
                                 const Replay& replay) {
  const ReplayTrace& trace = *replay.trace;
  if (scenario.sockets.kind == SocketKind::udp && trace.largest > scenario_check::kMaxUdpPayload) {
    for (std::size_t i = 0; i < trace.messages.size(); ++i) {
      if (trace.messages[i].bytes > scenario_check::kMaxUdpPayload) {
        return fmt::format("{}: a {}-byte payload is more than a udp datagram carries ({})",
                           trace.file, trace.messages[i].bytes, scenario_check::kMaxUdpPayload);
      }
    }
  }
  if (scenario.sockets.active == 0) {
    return fmt::format("{}: a replay needs sockets.active > 0 to carry its flows", trace.file);
  }
  const double ms = schedule_ms(replay);
  if (!phase.duration_ms && ms > kLongestPhaseMs) {
    return fmt::format(
        "{}: its schedule lasts {} s at speed {}, longer than a phase may "
        "(an hour): raise speed, or give duration_ms",
        trace.file, seconds_text(ms / 1e3), replay.speed);
  }
  return std::nullopt;
}

}  // namespace

// A slow speed stretches a schedule past any integer (speed 1e-300: 1e300 ms): it stays a
// double until it is known to fit, since converting one that does not is undefined.
double schedule_ms(const Replay& replay) {
  return std::ceil(static_cast<double>(replay.trace->span_ns()) / replay.speed / 1e6);
}

std::optional<std::uint64_t> planned_ms(const Phase& phase) {
  if (phase.duration_ms) return *phase.duration_ms;
  const Replay* replay = replay_of(phase);
  if (replay == nullptr || !replay->trace) return std::nullopt;
  // Validation refused a schedule longer than an hour without duration_ms.
  return static_cast<std::uint64_t>(std::min(schedule_ms(*replay), double{kLongestPhaseMs}));
}

std::optional<Problem> load_replays(Scenario& scenario, std::string_view file,
                                    std::optional<std::uint64_t> memory_budget_mib) {
  const std::filesystem::path folder = std::filesystem::path(file).parent_path();
  for (std::size_t i = 0; i < scenario.phases.size(); ++i) {
    Phase& phase = scenario.phases[i];
    auto* replay = std::get_if<Replay>(&phase.load);
    if (replay == nullptr) continue;
    const std::string at = fmt::format("/phases/{}/load/pcap", i);
    const std::filesystem::path pcap(replay->pcap);
    auto read =
        read_replay_trace((pcap.is_absolute() ? pcap : folder / pcap).string(), memory_budget_mib);
    if (auto* problem = std::get_if<TraceProblem>(&read)) {
      return Problem{std::string(file), at, std::move(problem->reason)};
    }
    replay->trace = std::make_shared<const ReplayTrace>(std::get<ReplayTrace>(std::move(read)));
    if (auto reason = unfit(scenario, phase, *replay)) {
      return Problem{std::string(file), at, std::move(*reason)};
    }
  }
  return std::nullopt;
}

}  // namespace pollscope
