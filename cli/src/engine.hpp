#pragma once

// The engine: runs a scenario on libpoll, over loopback socket pairs (or pipes), and measures
// what the loop does. One process runs one Poll; a scenario with workers forks that many
// processes, each over its share of the pairs, and merges their results exactly (histograms add
// bucket by bucket).

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "histogram.hpp"
#include "scenario.hpp"

namespace pollscope {

// Something the machine cannot give (the fd limit, a socket): the run cannot start or go on.
class EnvironmentError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Figures {
  std::uint64_t events = 0;           // readiness events dispatched
  std::uint64_t messages = 0;         // messages received
  std::uint64_t sent = 0;             // messages sent
  std::uint64_t late_sends = 0;       // open loop: sent more than 1 ms after their intended time
  std::uint64_t spurious_events = 0;  // readiness for an interest not registered then
  std::uint64_t missed_events = 0;    // messages never announced by an event (lost)
  // Events whose token names no source the engine holds any more (closed, dropped or reset
  // by an injected fault): what an application would see. libpoll's own count, of tokens its
  // book has no registration for, is RunOutcome::ghost_events.
  std::uint64_t ghost_events = 0;
  std::uint64_t peer_resets_observed = 0;  // injected resets that reached the registered end
  std::uint64_t toggles = 0;               // interest toggles applied
  double seconds = 0;                      // wall time of the measured phase(s)
  double target_rate = 0;                  // open loop: messages per second asked for (0: closed)
  Histogram latency;                       // from the (intended) send time to dispatch
  Histogram uncorrected;                   // from the actual send time to dispatch

  void merge(const Figures& other);
  [[nodiscard]] nlohmann::json serialize() const;
  static Figures deserialize(const nlohmann::json& data);
};

struct LeakFinding {
  std::string kind;  // leaked, vanished, zombie, interest_drift, token_collision, duplicate_target
  int fd = -1;
  std::uint64_t token = 0;
  std::string interest;
  std::string site;
  std::string detail;
};

struct PhaseOutcome {
  std::string name;
  Figures figures;
  bool leak_checked = false;       // the phase asked for a leak check at its end
  std::vector<LeakFinding> leaks;  // what that check found
};

struct RunOutcome {
  std::vector<PhaseOutcome> phases;
  Figures overall;
  Histogram register_ns;
  Histogram reregister_ns;
  Histogram deregister_ns;
  // libpoll's loop metrics, summed over workers.
  std::uint64_t polls = 0;
  std::uint64_t ghost_events = 0;
  std::uint64_t registers = 0;
  std::uint64_t reregisters = 0;
  std::uint64_t deregisters = 0;
  double blocked_seconds = 0;
  double measured_seconds = 0;
  double overhead_ns_per_event = 0;  // what measuring costs pollscope per event
  std::vector<LeakFinding> leaks;    // from the teardown check
  bool interrupted = false;
  std::string backend;  // the backend that ran
  std::string clock;    // the clock that stamped messages: "tsc" or "clock_monotonic"

  void merge(const RunOutcome& other);
  [[nodiscard]] nlohmann::json serialize() const;
  static RunOutcome deserialize(const nlohmann::json& data);
};

struct RunOptions {
  std::optional<libpoll::Backend> backend;  // overrides the scenario's
  // Set (from a signal handler) to end the run early: everything is still torn down.
  const std::atomic<bool>* stop = nullptr;
  // Called about once a second from the running process (worker 0 only), for a progress line.
  std::function<void(const std::string& phase, double seconds, std::uint64_t events)> progress;
};

// Runs `scenario`. Throws EnvironmentError when the machine cannot run it.
[[nodiscard]] RunOutcome run_scenario(const Scenario& scenario, const RunOptions& options);

// The descriptors one process needs for `pairs` pairs, with room for the Poll and stdio.
[[nodiscard]] std::uint64_t descriptors_needed(const Scenario& scenario);

}  // namespace pollscope
