#pragma once

// A pollscope scenario: what to register, what traffic to drive, which faults to inject and
// which thresholds decide the verdict. Parsed from a versioned JSON file (format 1, described by
// scenarios/scenario.schema.json) and checked before anything runs.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/failure.hpp"
#include "libpoll/backend.hpp"
#include "replay/replay_trace.hpp"

namespace pollscope {

inline constexpr int kScenarioFormat = 1;

// waker and eventfd are wake-up pairs, for a peer thread: no bytes cross, the sender wakes the
// receiver's Poll (libpoll's Waker, or a bare eventfd registered raw) and its stamps wait in
// memory.
enum class SocketKind { tcp, unix_stream, udp, pipe, waker, eventfd };

[[nodiscard]] inline bool wakes_only(SocketKind kind) {
  return kind == SocketKind::waker || kind == SocketKind::eventfd;
}

// Where the far end of each pair runs. In the same loop, a message is written and dispatched by
// one thread that never sleeps while it is in flight; on a thread or in a process of its own, the
// far end runs its own Poll, and an event's latency includes waking the poller blocked in wait.
enum class PeerPlacement { same_loop, thread, process };

struct Sockets {
  SocketKind kind = SocketKind::tcp;
  std::uint32_t count = 100;  // pairs (each pair is two descriptors), 1..100000
  std::uint32_t active = 10;  // pairs carrying traffic, 0..count
  PeerPlacement peer = PeerPlacement::same_loop;
};

// Closed loop: each active pair keeps `in_flight` messages outstanding; a message is sent again
// as soon as it has been received.
struct ClosedLoop {
  std::uint32_t in_flight = 1;  // 1..1024
};

// Open loop: messages are sent on a fixed schedule, `rate_per_second` in total across the
// active pairs; latency counts from each message's intended send time.
struct OpenLoop {
  double rate_per_second = 1000;  // > 0, at most 10,000,000
};

// Replay: the active pairs carry a pcap's TCP and UDP flows, flow i on active pair i (wrapping
// round when there are more flows than pairs), each message of its recorded size at its recorded
// time divided by `speed`; latency counts from that time, as in an open loop. The phase ends when
// the schedule is done (or at duration_ms, when given).
struct Replay {
  std::string pcap;                          // as written in the scenario
  double speed = 1;                          // (0, 1000]
  std::shared_ptr<const ReplayTrace> trace;  // read when the scenario is loaded
};

enum class TogglePattern {
  none,
  readable_writable,  // reregister readable <-> writable
  write_interest,     // add writable before each write, remove it after (buffer non-empty)
  reregister_cycle,   // reregister with the same interest
  deregister_cycle,   // deregister and register again
};

// A pattern is applied either every k readable events of an end, or at a rate: that many times
// a second across the run, one end after another among those of the active pairs (all pairs
// when none is active), whether or not traffic reached them.
struct Toggle {
  TogglePattern pattern = TogglePattern::none;
  std::uint32_t every_events = 1;         // 1..1000000
  std::optional<double> rate_per_second;  // (0, 1000000]; replaces every_events
};

struct Phase {
  std::string name;
  // Exactly one of the two ends a phase (a replay ends with its schedule, or at duration_ms).
  std::optional<std::uint32_t> duration_ms;  // 1..3600000
  std::optional<std::uint64_t> messages;     // 1..10^12, counted across all active pairs
  std::variant<ClosedLoop, OpenLoop, Replay> load = ClosedLoop{};
  // 16..65536 (the first 16 bytes carry the send time); a replay's sizes are the pcap's.
  std::uint32_t payload_bytes = 64;
  Toggle toggle;
  bool leak_check = false;  // audit the registrations at the end of the phase
};

// Injected at teardown, before the final leak check, or at the start of the phase named by
// `phase`, under that phase's load; either way the final check must find exactly these.
struct Faults {
  std::uint32_t leak = 0;                     // sources dropped without deregister
  std::uint32_t close_before_deregister = 0;  // fd closed, then deregister attempted
  std::uint32_t dup_then_close = 0;           // fd dup'd, original closed: zombie
  std::uint32_t peer_reset = 0;               // TCP peers closed with RST
  std::optional<std::string> phase;           // none: at teardown
};

enum class Comparison { less, less_equal, greater, greater_equal, equal };

struct Threshold {
  std::string metric;  // a report figure, e.g. "latency_ns.p99"; see known_metrics() in
                       // figures/catalogue.hpp
  Comparison comparison = Comparison::less;
  double value = 0;
  std::string text;  // as written, for the report: "latency_ns.p99 < 1000000"
};

// Captures the run's own TCP or UDP packets on an interface (libpcap): the wire's clock beside
// pollscope's own, and a pcap of the run (`run --capture`, `--pcap-out`).
struct CaptureSpec {
  std::string interface = "lo";
};

inline constexpr std::uint32_t kMaxWorkers = 64;  // the most worker processes a scenario may ask

struct Scenario {
  int format = kScenarioFormat;
  std::string name;
  std::string description;
  libpoll::Backend backend = libpoll::Backend::automatic;
  // Each poller thread's Poll made with libpoll::PollOptions::single_thread (each is polled by
  // that one thread all its life): on io_uring, a ring bound to the thread.
  bool single_thread_polls = false;
  // Each poller thread's Poll made with libpoll::PollOptions::receive_ahead: on io_uring its
  // streams are read by the kernel as data arrives, and their reads take the bytes received.
  bool receive_ahead = false;
  std::uint32_t events_capacity = 1024;  // 1..1000000
  std::uint32_t workers = 1;             // processes, 1..kMaxWorkers
  std::uint32_t threads = 1;             // poller threads per process, each with its own Poll
  Sockets sockets;
  std::vector<Phase> phases;  // at least one
  Faults faults;
  std::vector<Threshold> thresholds;
  std::optional<CaptureSpec> capture;
  nlohmann::json source;  // the document as read, for the report's scenario hash
};

// Parses and checks a scenario document. `file` names it in errors, and a replay's pcap path is
// relative to its folder; a replay's pcap is read then, and refused as soon as reading it would
// hold more than `memory_budget_mib` MiB (none: no limit).
[[nodiscard]] std::variant<Scenario, Problem> parse_scenario(
    const nlohmann::json& document, std::string_view file,
    std::optional<std::uint64_t> memory_budget_mib = std::nullopt);
// Reads, parses and checks a scenario file; a missing or malformed file is a Problem too.
[[nodiscard]] std::variant<Scenario, Problem> load_scenario(
    const std::string& path, std::optional<std::uint64_t> memory_budget_mib = std::nullopt);

// Why `scenario` cannot be captured as it is (Unix sockets and pipes have no packets; a message
// needs 24 bytes to carry its sequence number), naming the field at fault as a JSON pointer; none
// when it can.
[[nodiscard]] std::optional<std::pair<std::string, std::string>> capture_unfit(
    const Scenario& scenario);

// The replay of `phase`, if it is one.
[[nodiscard]] inline const Replay* replay_of(const Phase& phase) {
  return std::get_if<Replay>(&phase.load);
}
// How long a phase is planned to take, in milliseconds: its duration, or its replay's schedule
// at its speed; none when it ends after a number of messages.
[[nodiscard]] std::optional<std::uint64_t> planned_ms(const Phase& phase);
// A replay's schedule at its speed, in milliseconds, as a double: past any integer for a slow
// enough speed.
[[nodiscard]] double schedule_ms(const Replay& replay);

[[nodiscard]] std::string_view to_string(SocketKind kind);
[[nodiscard]] std::string_view to_string(PeerPlacement peer);
[[nodiscard]] std::string_view to_string(TogglePattern pattern);
[[nodiscard]] std::string_view to_string(Comparison comparison);  // "<", "<=", ">", ">=", "=="

}  // namespace pollscope
