// The checks of a scenario's parts: sockets, phases (load and toggle) and faults.

#include <array>
#include <optional>
#include <string_view>
#include <utility>

#include "libpoll/audit.hpp"
#include "scenario/checker.hpp"
#include "scenario/split.hpp"

namespace pollscope::scenario_check {

bool Checker::check_sockets(const json& value, const std::string& path, Sockets* sockets) {
  if (!expect_object(value, path) || !check_keys(value, path, kSocketsKeys) ||
      !require(value, path, "kind") || !require(value, path, "count")) {
    return false;
  }
  if (!read_enum(value.at("kind"), json_child(path, "kind"), kSocketKinds, &sockets->kind) ||
      !read_integer_member(value, path, "count", 1, kMaxPairs, &sockets->count)) {
    return false;
  }
  sockets->active = std::min<std::uint32_t>(sockets->count, 10);
  if (const auto found = value.find("active"); found != value.end()) {
    std::uint64_t active = 0;
    // Range-checked against the widest bound first, so that a wrong type or a negative number
    // reads as such rather than as "more than count".
    if (!read_integer(*found, json_child(path, "active"), 0, kMaxPairs, &active)) return false;
    if (active > sockets->count) {
      return fail(json_child(path, "active"),
                  fmt::format("must be at most count ({}), got {}", sockets->count, active));
    }
    sockets->active = static_cast<std::uint32_t>(active);
  }
  if (const auto found = value.find("peer"); found != value.end()) {
    if (!read_enum(*found, json_child(path, "peer"), kPeerPlacements, &sockets->peer)) return false;
  }
  return check_wake_sockets(path, *sockets);
}

// Wake-up pairs keep a message's stamps in memory (a peer thread) and one Waker per Poll.
bool Checker::check_wake_sockets(const std::string& path, const Sockets& sockets) {
  if (wakes_only(sockets.kind) && sockets.peer != PeerPlacement::thread) {
    return fail(json_child(path, "peer"),
                fmt::format("must be \"thread\" for sockets.kind {} (its stamps wait in memory "
                            "for the woken thread), got {}",
                            quote(to_string(sockets.kind)), quote(to_string(sockets.peer))));
  }
  if (sockets.kind == SocketKind::waker && sockets.count != 1) {
    return fail(json_child(path, "count"),
                fmt::format("must be 1 for sockets.kind \"waker\" (one Waker per Poll), got {}",
                            sockets.count));
  }
  // A pipe carries messages one way: its far end could only send, never answer.
  if (sockets.peer != PeerPlacement::same_loop && sockets.kind == SocketKind::pipe) {
    return fail(json_child(path, "peer"),
                fmt::format("must be \"same_loop\" for sockets.kind \"pipe\" (one-way), got {}",
                            quote(to_string(sockets.peer))));
  }
  return true;
}

namespace {

constexpr double kMinRate = 0.001;  // the slowest rate: one every 1000 s

// Whether a phase document asks for a replay (its load is checked later).
bool asks_replay(const json& phase) {
  const auto load = phase.find("load");
  if (load == phase.end() || !load->is_object()) return false;
  const auto mode = load->find("mode");
  return mode != load->end() && *mode == "replay";
}

// Of the faults, in the order the engine takes pairs for them (active pairs first), the key of
// the one that leaves none of `active` pairs to carry a phase's messages, if one does. A closed
// loop needs a healthy pair (a faulted pair's messages are never answered); an open loop also
// sends on a dropped or dup'd source's pair, whose file still takes data.
std::optional<std::string_view> last_carrier_taken_by(const Faults& faults, std::uint64_t active,
                                                      bool open) {
  const std::array<std::pair<std::string_view, std::uint32_t>, 4> order{{
      {"dup_then_close", faults.dup_then_close},
      {"leak", faults.leak},
      {"close_before_deregister", faults.close_before_deregister},
      {"peer_reset", faults.peer_reset},
  }};
  std::uint64_t taken = 0;
  std::uint64_t silenced = 0;
  for (const auto& [key, count] : order) {
    const std::uint64_t now = std::min<std::uint64_t>(active, taken + count);
    if (!open || (key != "dup_then_close" && key != "leak")) silenced += now - taken;
    taken = now;
    if (active > 0 && count > 0 && silenced == active) return key;
  }
  return std::nullopt;
}

// Faults injected at a phase stay for the phases after it. One that ends after its messages
// needs a pair to carry them in the poller that takes the faults (the first of the first
// worker): without one, its share of the messages is never sent and the phase never ends.
std::optional<std::pair<std::string_view, std::string>> strands_messages(const Scenario& scenario,
                                                                         const Faults& faults) {
  if (!faults.phase) return std::nullopt;
  const std::uint64_t active =
      largest_share(largest_share(scenario.sockets.active, scenario.workers), scenario.threads);
  bool injected = false;
  for (const Phase& phase : scenario.phases) {
    injected = injected || phase.name == *faults.phase;
    if (!injected || !phase.messages) continue;
    const bool open = std::holds_alternative<OpenLoop>(phase.load);
    const auto key = last_carrier_taken_by(faults, active, open);
    if (!key) continue;
    return std::pair{
        *key, fmt::format("the faults injected at phase {} take all {} active pairs of the poller "
                          "that holds them, leaving phase {} no {} to send its messages on (it "
                          "would never end): lower the faults or raise sockets.active",
                          quote(*faults.phase), active, quote(phase.name),
                          open ? "pair whose file still takes data" : "healthy pair")};
  }
  return std::nullopt;
}

}  // namespace

// What ends a phase: exactly one of a duration and a number of messages; a replay ends with its
// schedule, or at a duration.
bool Checker::check_phase_end(const json& value, const std::string& path, const Sockets& sockets,
                              Phase* phase) {
  const bool has_duration = value.contains("duration_ms");
  const bool has_messages = value.contains("messages");
  if (asks_replay(value)) {
    if (has_messages) {
      return fail(json_child(path, "messages"),
                  "a replay sends the pcap's messages: end it with its schedule, or duration_ms");
    }
    if (!has_duration) return true;
  }
  if (has_duration && has_messages) {
    return fail(path, "has both \"duration_ms\" and \"messages\": give exactly one");
  }
  if (!has_duration && !has_messages) {
    return fail(path, "needs one of \"duration_ms\" or \"messages\" to end it");
  }
  if (has_duration) {
    std::uint32_t duration = 0;
    if (!read_integer_member(value, path, "duration_ms", 1, 3600000, &duration)) return false;
    phase->duration_ms = duration;
  } else {
    std::uint64_t messages = 0;
    if (!read_integer_member(value, path, "messages", 1, kMaxMessages, &messages)) return false;
    // Messages are counted on the active pairs: with none the phase would never end.
    if (sockets.active == 0) {
      return fail(json_child(path, "messages"),
                  "a phase that ends after a number of messages needs sockets.active > 0");
    }
    phase->messages = messages;
  }
  return true;
}

bool Checker::check_phase(const json& value, const std::string& path, const Sockets& sockets,
                          Phase* phase) {
  if (!expect_object(value, path) || !check_keys(value, path, kPhaseKeys) ||
      !require(value, path, "name") ||
      !read_identifier(value.at("name"), json_child(path, "name"), &phase->name)) {
    return false;
  }
  if (!check_phase_end(value, path, sockets, phase)) return false;
  if (const auto found = value.find("load"); found != value.end()) {
    if (!check_load(*found, json_child(path, "load"), phase)) return false;
  }
  if (replay_of(*phase) != nullptr && value.contains("payload_bytes")) {
    return fail(json_child(path, "payload_bytes"),
                "a replay's message sizes are the pcap's payloads: payload_bytes does not apply");
  }
  if (!read_integer_member(value, path, "payload_bytes", 16, 65536, &phase->payload_bytes)) {
    return false;
  }
  if (sockets.kind == SocketKind::udp && phase->payload_bytes > kMaxUdpPayload) {
    return fail(json_child(path, "payload_bytes"),
                fmt::format("a udp datagram carries at most {} bytes, got {}", kMaxUdpPayload,
                            phase->payload_bytes));
  }
  if (const auto found = value.find("toggle"); found != value.end()) {
    if (!check_toggle(*found, json_child(path, "toggle"), &phase->toggle)) return false;
  }
  if (wakes_only(sockets.kind)) {
    const auto* closed = std::get_if<ClosedLoop>(&phase->load);
    if (closed == nullptr || closed->in_flight != 1) {
      return fail(json_child(path, "load"),
                  fmt::format("must be a closed loop with in_flight 1 for sockets.kind {} (one "
                              "message waits per end)",
                              quote(to_string(sockets.kind))));
    }
    if (phase->toggle.pattern != TogglePattern::none) {
      return fail(json_child(path, "toggle"), fmt::format("must be \"none\" for sockets.kind {}",
                                                          quote(to_string(sockets.kind))));
    }
  }
  if (const auto found = value.find("leak_check"); found != value.end()) {
    if (!found->is_boolean()) {
      return fail(json_child(path, "leak_check"),
                  fmt::format("expected a boolean, got {}", describe(*found)));
    }
    phase->leak_check = found->get<bool>();
  }
  return true;
}

bool Checker::check_load(const json& value, const std::string& path, Phase* phase) {
  if (!expect_object(value, path)) return false;
  // Which keys belong depends on the mode; without a valid one, the keys of either mode are
  // accepted here, so that a misspelt "mode" still reads as an unknown key.
  const auto mode = value.find("mode");
  const bool closed = mode != value.end() && *mode == "closed";
  const bool open = mode != value.end() && *mode == "open";
  const bool replay = mode != value.end() && *mode == "replay";
  std::span<const std::string_view> known = kLoadKeys;
  if (closed) known = kClosedKeys;
  if (open) known = kOpenKeys;
  if (replay) known = kReplayKeys;
  if (!check_keys(value, path, known) || !require(value, path, "mode")) return false;
  if (replay) return check_replay(value, path, phase);
  if (closed) {
    ClosedLoop loop;
    if (!read_integer_member(value, path, "in_flight", 1, 1024, &loop.in_flight)) return false;
    phase->load = loop;
    return true;
  }
  if (open) {
    double rate = 0;
    if (!require(value, path, "rate_per_second") ||
        !read_rate(value, path, "rate_per_second", kMaxRate, &rate)) {
      return false;
    }
    phase->load = OpenLoop{rate};
    return true;
  }
  return fail(json_child(path, "mode"),
              fmt::format("expected one of \"closed\", \"open\", \"replay\", got {}",
                          mode->is_string() ? shown(*mode) : describe(*mode)));
}

// The pcap is read once the whole document is checked (load.cpp), where its folder is known.
bool Checker::check_replay(const json& value, const std::string& path, Phase* phase) {
  Replay replay;
  if (!require(value, path, "pcap") ||
      !read_string(value.at("pcap"), json_child(path, "pcap"), &replay.pcap)) {
    return false;
  }
  if (replay.pcap.empty()) return fail(json_child(path, "pcap"), "must name a pcap file");
  if (value.contains("speed") && !read_rate(value, path, "speed", kMaxReplaySpeed, &replay.speed)) {
    return false;
  }
  phase->load = std::move(replay);
  return true;
}

bool Checker::read_rate(const json& object, const std::string& path, std::string_view key,
                        double high, double* out) {
  const json& rate = object.at(std::string(key));
  const std::string rate_path = json_child(path, key);
  if (!rate.is_number()) {
    return fail(rate_path, fmt::format("expected a number, got {}", describe(rate)));
  }
  const double number = rate.get<double>();
  if (!(number > 0 && number <= high)) {  // NaN fails too
    return fail(rate_path, fmt::format("must be greater than 0 and at most {}, got {}",
                                       static_cast<std::uint64_t>(high), shown(rate)));
  }
  // A slower rate's interval (1e9 / rate ns) is no number of nanoseconds a schedule can keep: at
  // 1e-300 it is infinite, and its ticks NaN. (A replay's speed is held to a schedule of at most
  // an hour, load.cpp.)
  if (key == "rate_per_second" && number < kMinRate) {
    return fail(rate_path, fmt::format("must be at least {} (a slower schedule's interval is "
                                       "no number of nanoseconds pollscope can keep), got {}",
                                       kMinRate, shown(rate)));
  }
  *out = number;
  return true;
}

bool Checker::check_toggle(const json& value, const std::string& path, Toggle* toggle) {
  if (!expect_object(value, path) || !check_keys(value, path, kToggleKeys) ||
      !require(value, path, "pattern") ||
      !read_enum(value.at("pattern"), json_child(path, "pattern"), kTogglePatterns,
                 &toggle->pattern)) {
    return false;
  }
  if (value.contains("every_events") && value.contains("rate_per_second")) {
    return fail(path, "has both \"every_events\" and \"rate_per_second\": give at most one");
  }
  if (value.contains("rate_per_second")) {
    double rate = 0;
    if (!read_rate(value, path, "rate_per_second", kMaxToggleRate, &rate)) return false;
    toggle->rate_per_second = rate;
    return true;
  }
  return read_integer_member(value, path, "every_events", 1, 1000000, &toggle->every_events);
}

bool Checker::check_faults(const json& value, const std::string& path, const Scenario& scenario,
                           Faults* faults) {
  const Sockets& sockets = scenario.sockets;
  if (!expect_object(value, path) || !check_keys(value, path, kFaultsKeys) ||
      !read_integer_member(value, path, "leak", 0, kMaxPairs, &faults->leak) ||
      !read_integer_member(value, path, "close_before_deregister", 0, kMaxPairs,
                           &faults->close_before_deregister) ||
      !read_integer_member(value, path, "dup_then_close", 0, kMaxPairs, &faults->dup_then_close) ||
      !read_integer_member(value, path, "peer_reset", 0, kMaxPairs, &faults->peer_reset)) {
    return false;
  }
  // The audit names at most that many of them; more could not be found exactly.
  if (faults->close_before_deregister > libpoll::audit_history) {
    return fail(json_child(path, "close_before_deregister"),
                fmt::format("must be at most {} (the registrations libpoll's audit remembers "
                            "after a close), got {}",
                            libpoll::audit_history, faults->close_before_deregister));
  }
  const std::uint64_t total = std::uint64_t{faults->leak} + faults->close_before_deregister +
                              faults->dup_then_close + faults->peer_reset;
  if (total > 0 && wakes_only(sockets.kind)) {
    return fail(path, fmt::format("sockets.kind {} takes no faults (no descriptor to spoil)",
                                  quote(to_string(sockets.kind))));
  }
  if (faults->peer_reset > 0 && sockets.kind != SocketKind::tcp) {
    return fail(json_child(path, "peer_reset"),
                fmt::format("needs sockets.kind \"tcp\" (only TCP resets), got {}",
                            quote(to_string(sockets.kind))));
  }
  if (const auto found = value.find("phase"); found != value.end()) {
    std::string name;
    if (!read_string(*found, json_child(path, "phase"), &name)) return false;
    std::vector<std::string> names;
    for (const Phase& phase : scenario.phases) names.push_back(phase.name);
    if (!contains(names, name)) {
      return fail(json_child(path, "phase"),
                  fmt::format("unknown phase {} (phases: {})", quote(name), join(names, ", ")));
    }
    faults->phase = std::move(name);
  }
  // Each fault spoils a pair of its own, all in the first poller of the first worker (the
  // first ones get the odd pairs out): its share of the pairs must hold them.
  const std::uint64_t share =
      largest_share(largest_share(sockets.count, scenario.workers), scenario.threads);
  if (total > share) {
    const bool split = scenario.workers > 1 || scenario.threads > 1;
    return fail(path, split ? fmt::format("the faults add up to {} pairs, more than the first "
                                          "poller's share of sockets.count ({} of {})",
                                          total, share, sockets.count)
                            : fmt::format("the faults add up to {} pairs, more than "
                                          "sockets.count ({})",
                                          total, sockets.count));
  }
  if (const auto stranded = strands_messages(scenario, *faults)) {
    return fail(json_child(path, stranded->first), stranded->second);
  }
  return true;
}

}  // namespace pollscope::scenario_check
