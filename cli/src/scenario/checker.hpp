#pragma once

// The scenario checker: walks a scenario document in the documented order and stops at the first
// mistake, which it locates by a JSON pointer. Internal to scenario/: parse_scenario is its door.

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/json_text.hpp"
#include "scenario/scenario.hpp"

namespace pollscope {

// Reads the pcap of each replay phase of a checked scenario (relative to the folder of `file`),
// or says which is wrong and why; one too large for `memory_budget_mib` is refused while read.
[[nodiscard]] std::optional<Problem> load_replays(Scenario& scenario, std::string_view file,
                                                  std::optional<std::uint64_t> memory_budget_mib);

}  // namespace pollscope

namespace pollscope::scenario_check {

using json = nlohmann::json;

inline constexpr std::uint32_t kMaxPairs = 100000;
inline constexpr std::uint64_t kMaxMessages = 1000000000000;  // 10^12
inline constexpr double kMaxRate = 1e7;
inline constexpr std::uint32_t kMaxUdpPayload = 65507;  // 65535 - 8 (UDP header) - 20 (IPv4 header)
inline constexpr std::size_t kMaxPhases = 16;
inline constexpr std::size_t kMaxIdentifier = 64;

inline constexpr std::array<std::string_view, 14> kTopKeys = {"format",
                                                              "name",
                                                              "description",
                                                              "backend",
                                                              "single_thread_polls",
                                                              "receive_ahead",
                                                              "events_capacity",
                                                              "workers",
                                                              "threads",
                                                              "sockets",
                                                              "phases",
                                                              "faults",
                                                              "thresholds",
                                                              "capture"};
inline constexpr std::array<std::string_view, 1> kCaptureKeys = {"interface"};
inline constexpr std::array<std::string_view, 4> kSocketsKeys = {"kind", "count", "active", "peer"};
inline constexpr std::array<std::string_view, 7> kPhaseKeys = {
    "name", "duration_ms", "messages", "load", "payload_bytes", "toggle", "leak_check"};
inline constexpr std::array<std::string_view, 5> kLoadKeys = {"mode", "in_flight",
                                                              "rate_per_second", "pcap", "speed"};
inline constexpr std::array<std::string_view, 2> kClosedKeys = {"mode", "in_flight"};
inline constexpr std::array<std::string_view, 2> kOpenKeys = {"mode", "rate_per_second"};
inline constexpr std::array<std::string_view, 3> kReplayKeys = {"mode", "pcap", "speed"};
inline constexpr double kMaxReplaySpeed = 1000;
inline constexpr std::array<std::string_view, 3> kToggleKeys = {"pattern", "every_events",
                                                                "rate_per_second"};
inline constexpr std::array<std::string_view, 5> kFaultsKeys = {
    "leak", "close_before_deregister", "dup_then_close", "peer_reset", "phase"};
inline constexpr double kMaxToggleRate = 1e6;

inline constexpr std::array kSocketKinds = {SocketKind::tcp,   SocketKind::unix_stream,
                                            SocketKind::udp,   SocketKind::pipe,
                                            SocketKind::waker, SocketKind::eventfd};
inline constexpr std::array kPeerPlacements = {PeerPlacement::same_loop, PeerPlacement::thread,
                                               PeerPlacement::process};
inline constexpr std::array kTogglePatterns = {
    TogglePattern::none, TogglePattern::readable_writable, TogglePattern::write_interest,
    TogglePattern::reregister_cycle, TogglePattern::deregister_cycle};
inline constexpr std::array kBackends = {libpoll::Backend::automatic, libpoll::Backend::epoll,
                                         libpoll::Backend::poll, libpoll::Backend::io_uring};
inline constexpr std::array kComparisons = {Comparison::less, Comparison::less_equal,
                                            Comparison::greater, Comparison::greater_equal,
                                            Comparison::equal};

template <typename Range>
std::string join(const Range& items, std::string_view separator) {
  std::string result;
  for (const auto& item : items) {
    if (!result.empty()) result += separator;
    result += item;
  }
  return result;
}

bool is_identifier(std::string_view text);
bool is_integral(const json& value);
bool contains(const std::vector<std::string>& list, std::string_view item);
bool is_number_text(std::string_view text);

struct Mistake {
  std::string path;
  std::string reason;
};

// Walks a document in the documented order and stops at the first mistake, recorded as its
// Mistake. Every object's keys are checked before its values, so that a misspelt key is
// reported as such rather than as the missing key it was meant to be.
class Checker {
 public:
  bool check(const json& document, Scenario* scenario);
  [[nodiscard]] const Mistake& mistake() const { return mistake_; }

 private:
  bool fail(std::string path, std::string reason) {
    mistake_ = {std::move(path), std::move(reason)};
    return false;
  }

  bool expect_object(const json& value, const std::string& path);
  bool check_keys(const json& object, const std::string& path,
                  std::span<const std::string_view> known);
  bool require(const json& object, const std::string& path, std::string_view key);

  bool read_integer(const json& value, const std::string& path, std::uint64_t low,
                    std::uint64_t high, std::uint64_t* out);
  // Reads `object[key]` when present; `*out` keeps its default otherwise.
  template <typename T>
  bool read_integer_member(const json& object, const std::string& path, std::string_view key,
                           std::uint64_t low, std::uint64_t high, T* out) {
    const auto found = object.find(std::string(key));
    if (found == object.end()) return true;
    std::uint64_t value = 0;
    if (!read_integer(*found, json_child(path, key), low, high, &value)) return false;
    *out = static_cast<T>(value);  // `high` fits T at every call
    return true;
  }
  bool read_string(const json& value, const std::string& path, std::string* out);
  bool read_identifier(const json& value, const std::string& path, std::string* out);
  template <typename Enum, std::size_t N>
  bool read_enum(const json& value, const std::string& path, const std::array<Enum, N>& choices,
                 Enum* out);

  bool check_format(const json& document);
  bool check_phases(const json& phases, Scenario* scenario);
  bool check_thresholds(const json& thresholds, Scenario* scenario);
  bool check_sockets(const json& value, const std::string& path, Sockets* sockets);
  bool check_wake_sockets(const std::string& path, const Sockets& sockets);
  bool check_phase(const json& value, const std::string& path, const Sockets& sockets,
                   Phase* phase);
  bool check_phase_end(const json& value, const std::string& path, const Sockets& sockets,
                       Phase* phase);
  bool check_load(const json& value, const std::string& path, Phase* phase);
  bool check_replay(const json& value, const std::string& path, Phase* phase);
  bool check_toggle(const json& value, const std::string& path, Toggle* toggle);
  bool check_faults(const json& value, const std::string& path, const Scenario& scenario,
                    Faults* faults);
  bool check_capture(const json& value, const std::string& path, Scenario* scenario);
  bool read_rate(const json& object, const std::string& path, std::string_view key, double high,
                 double* out);
  bool check_threshold(const json& value, const std::string& path, const std::vector<Phase>& phases,
                       Threshold* threshold);
  // Empty when `metric` names a report figure; otherwise why not.
  [[nodiscard]] static std::string metric_problem(std::string_view metric,
                                                  const std::vector<Phase>& phases);

  Mistake mistake_;
};

template <typename Enum, std::size_t N>
bool Checker::read_enum(const json& value, const std::string& path,
                        const std::array<Enum, N>& choices, Enum* out) {
  if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    for (Enum choice : choices) {
      if (to_string(choice) == text) {
        *out = choice;
        return true;
      }
    }
  }
  std::vector<std::string> names;
  for (Enum choice : choices) names.push_back(quote(to_string(choice)));
  return fail(path, fmt::format("expected one of {}, got {}", join(names, ", "),
                                value.is_string() ? shown(value) : describe(value)));
}

}  // namespace pollscope::scenario_check
