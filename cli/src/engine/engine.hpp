#pragma once

// The engine: runs a scenario on libpoll, over loopback socket pairs (or pipes), and measures
// what the loop does. One poller runs one Poll; a scenario with threads runs that many pollers
// per process (threads.cpp), and one with workers forks that many processes (processes.cpp),
// each over its share of the pairs; their outcomes merge exactly (histograms add bucket by
// bucket). The engine prints nothing and holds no JSON.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "outcome/outcome.hpp"
#include "scenario/scenario.hpp"

namespace pollscope {

class PcapSink;

struct RunOptions {
  std::optional<libpoll::Backend> backend;  // overrides the scenario's
  // Set (from a signal handler) to end the run early: everything is still torn down.
  const std::atomic<bool>* stop = nullptr;
  // Called about once a second from the running process (worker 0 only), for a progress line.
  std::function<void(const std::string& phase, double seconds, std::uint64_t events)> progress;
  // With a capture: where the pollers put the packets for --pcap-out (none: not kept).
  PcapSink* pcap_sink = nullptr;
  // With a capture: the messages each poller matches a phase at most, within what the memory
  // budget leaves (none: the matcher's own limit, WireMatcher::kMostRecords).
  std::optional<std::size_t> capture_records;
};

// Runs `scenario`. Throws a Failure (exit 3) when the machine cannot run it.
[[nodiscard]] RunOutcome run_scenario(const Scenario& scenario, const RunOptions& options);

// The descriptors one process needs for its share of the pairs, with room for the Poll and stdio.
[[nodiscard]] std::uint64_t descriptors_needed(const Scenario& scenario);

// Raises the process's descriptor limit to what `scenario` needs; when the hard limit is too low,
// the reason, saying how many workers would fit (the caller names the scenario's file).
[[nodiscard]] std::optional<std::string> raise_fd_limit(const Scenario& scenario);

// Which of the run's pairs one process or poller holds: `pairs` pairs, the first `active`
// carrying traffic (the run's active pairs from `first_active` on).
struct PairShare {
  std::size_t pairs = 0;
  std::size_t active = 0;
  std::size_t first_active = 0;
};

// One process's share of the pairs: the scenario's poller threads, merged. The first poller
// injects the faults when `faults`.
[[nodiscard]] RunOutcome run_threads(const Scenario& scenario, const RunOptions& options,
                                     PairShare share, bool faults);

}  // namespace pollscope
