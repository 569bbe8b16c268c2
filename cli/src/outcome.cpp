// Merging and serialising run outcomes: how worker processes hand their results to the parent,
// exactly (histograms travel bucket by bucket).

#include <algorithm>
#include <stdexcept>

#include "engine.hpp"

namespace pollscope {

namespace {

Histogram histogram_from(const nlohmann::json& data) {
  auto histogram = Histogram::deserialize(data);
  if (!histogram) throw std::runtime_error("a worker sent a malformed histogram");
  return std::move(*histogram);
}

nlohmann::json serialize_leaks(const std::vector<LeakFinding>& leaks) {
  auto data = nlohmann::json::array();
  for (const auto& leak : leaks) {
    data.push_back({{"kind", leak.kind},
                    {"fd", leak.fd},
                    {"token", leak.token},
                    {"interest", leak.interest},
                    {"site", leak.site},
                    {"detail", leak.detail}});
  }
  return data;
}

std::vector<LeakFinding> deserialize_leaks(const nlohmann::json& data) {
  std::vector<LeakFinding> leaks;
  for (const auto& leak : data) {
    leaks.push_back(
        LeakFinding{leak.at("kind").get<std::string>(), leak.at("fd").get<int>(),
                    leak.at("token").get<std::uint64_t>(), leak.at("interest").get<std::string>(),
                    leak.at("site").get<std::string>(), leak.at("detail").get<std::string>()});
  }
  return leaks;
}

}  // namespace

void Figures::merge(const Figures& other) {
  events += other.events;
  messages += other.messages;
  sent += other.sent;
  late_sends += other.late_sends;
  spurious_events += other.spurious_events;
  missed_events += other.missed_events;
  ghost_events += other.ghost_events;
  peer_resets_observed += other.peer_resets_observed;
  toggles += other.toggles;
  // One phase after another: the wall times add, and the target rate is their time-weighted
  // mean (workers running side by side merge differently: see RunOutcome::merge).
  const double total = seconds + other.seconds;
  target_rate = total > 0 ? (target_rate * seconds + other.target_rate * other.seconds) / total : 0;
  seconds = total;
  latency.merge(other.latency);
  uncorrected.merge(other.uncorrected);
}

nlohmann::json Figures::serialize() const {
  return {{"events", events},
          {"messages", messages},
          {"sent", sent},
          {"late_sends", late_sends},
          {"spurious_events", spurious_events},
          {"missed_events", missed_events},
          {"ghost_events", ghost_events},
          {"peer_resets_observed", peer_resets_observed},
          {"toggles", toggles},
          {"seconds", seconds},
          {"target_rate", target_rate},
          {"latency", latency.serialize()},
          {"uncorrected", uncorrected.serialize()}};
}

Figures Figures::deserialize(const nlohmann::json& data) {
  Figures figures;
  figures.events = data.at("events").get<std::uint64_t>();
  figures.messages = data.at("messages").get<std::uint64_t>();
  figures.sent = data.at("sent").get<std::uint64_t>();
  figures.late_sends = data.at("late_sends").get<std::uint64_t>();
  figures.spurious_events = data.at("spurious_events").get<std::uint64_t>();
  figures.missed_events = data.at("missed_events").get<std::uint64_t>();
  figures.ghost_events = data.at("ghost_events").get<std::uint64_t>();
  figures.peer_resets_observed = data.at("peer_resets_observed").get<std::uint64_t>();
  figures.toggles = data.at("toggles").get<std::uint64_t>();
  figures.seconds = data.at("seconds").get<double>();
  figures.target_rate = data.at("target_rate").get<double>();
  figures.latency = histogram_from(data.at("latency"));
  figures.uncorrected = histogram_from(data.at("uncorrected"));
  return figures;
}

// Merging one worker's outcome into another's: counts add; the workers ran at the same time, so
// a phase's wall time is the longest of theirs, and its target rates add up.
void RunOutcome::merge(const RunOutcome& other) {
  const auto merge_parallel = [](Figures& into, const Figures& from) {
    const double seconds = std::max(into.seconds, from.seconds);
    const double target_rate = into.target_rate + from.target_rate;
    into.merge(from);
    into.seconds = seconds;
    into.target_rate = target_rate;
  };
  for (std::size_t i = 0; i < phases.size() && i < other.phases.size(); ++i) {
    merge_parallel(phases[i].figures, other.phases[i].figures);
    phases[i].leak_checked = phases[i].leak_checked || other.phases[i].leak_checked;
    phases[i].leaks.insert(phases[i].leaks.end(), other.phases[i].leaks.begin(),
                           other.phases[i].leaks.end());
  }
  merge_parallel(overall, other.overall);
  register_ns.merge(other.register_ns);
  reregister_ns.merge(other.reregister_ns);
  deregister_ns.merge(other.deregister_ns);
  polls += other.polls;
  ghost_events += other.ghost_events;
  registers += other.registers;
  reregisters += other.reregisters;
  deregisters += other.deregisters;
  blocked_seconds += other.blocked_seconds;
  measured_seconds += other.measured_seconds;
  const double events = static_cast<double>(overall.events);
  const double mine = static_cast<double>(overall.events - other.overall.events);
  overhead_ns_per_event =
      events == 0 ? 0
                  : (overhead_ns_per_event * mine +
                     other.overhead_ns_per_event * static_cast<double>(other.overall.events)) /
                        events;
  leaks.insert(leaks.end(), other.leaks.begin(), other.leaks.end());
  interrupted = interrupted || other.interrupted;
}

nlohmann::json RunOutcome::serialize() const {
  nlohmann::json data;
  data["phases"] = nlohmann::json::array();
  for (const auto& phase : phases) {
    data["phases"].push_back({{"name", phase.name},
                              {"figures", phase.figures.serialize()},
                              {"leak_checked", phase.leak_checked},
                              {"leaks", serialize_leaks(phase.leaks)}});
  }
  data["overall"] = overall.serialize();
  data["register_ns"] = register_ns.serialize();
  data["reregister_ns"] = reregister_ns.serialize();
  data["deregister_ns"] = deregister_ns.serialize();
  data["polls"] = polls;
  data["ghost_events"] = ghost_events;
  data["registers"] = registers;
  data["reregisters"] = reregisters;
  data["deregisters"] = deregisters;
  data["blocked_seconds"] = blocked_seconds;
  data["measured_seconds"] = measured_seconds;
  data["overhead_ns_per_event"] = overhead_ns_per_event;
  data["interrupted"] = interrupted;
  data["backend"] = backend;
  data["clock"] = clock;
  data["leaks"] = serialize_leaks(leaks);
  return data;
}

RunOutcome RunOutcome::deserialize(const nlohmann::json& data) {
  RunOutcome outcome;
  for (const auto& phase : data.at("phases")) {
    outcome.phases.push_back(
        {phase.at("name").get<std::string>(), Figures::deserialize(phase.at("figures")),
         phase.at("leak_checked").get<bool>(), deserialize_leaks(phase.at("leaks"))});
  }
  outcome.overall = Figures::deserialize(data.at("overall"));
  outcome.register_ns = histogram_from(data.at("register_ns"));
  outcome.reregister_ns = histogram_from(data.at("reregister_ns"));
  outcome.deregister_ns = histogram_from(data.at("deregister_ns"));
  outcome.polls = data.at("polls").get<std::uint64_t>();
  outcome.ghost_events = data.at("ghost_events").get<std::uint64_t>();
  outcome.registers = data.at("registers").get<std::uint64_t>();
  outcome.reregisters = data.at("reregisters").get<std::uint64_t>();
  outcome.deregisters = data.at("deregisters").get<std::uint64_t>();
  outcome.blocked_seconds = data.at("blocked_seconds").get<double>();
  outcome.measured_seconds = data.at("measured_seconds").get<double>();
  outcome.overhead_ns_per_event = data.at("overhead_ns_per_event").get<double>();
  outcome.interrupted = data.at("interrupted").get<bool>();
  outcome.backend = data.at("backend").get<std::string>();
  outcome.clock = data.at("clock").get<std::string>();
  outcome.leaks = deserialize_leaks(data.at("leaks"));
  return outcome;
}

}  // namespace pollscope
