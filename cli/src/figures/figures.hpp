#pragma once

// What the engine measures, as plain numbers and histograms: one Figures per phase, and one for
// the whole run (whose libpoll loop metrics and registry timings only the whole run has). The
// catalogue (catalogue.hpp) says how each is named, reported, merged and compared; code that
// measures a new quantity adds its member here and its line there.

#include <cstdint>

#include "figures/histogram.hpp"

namespace pollscope {

struct Figures {
  std::uint64_t events = 0;           // readiness events dispatched
  std::uint64_t messages = 0;         // messages received
  std::uint64_t sent = 0;             // messages sent
  std::uint64_t late_sends = 0;       // open loop: sent more than 1 ms after their intended time
  std::uint64_t spurious_events = 0;  // readiness for an interest not registered then
  std::uint64_t missed_events = 0;    // messages never announced by an event (lost)
  // Messages still in flight when a stop (SIGINT, SIGTERM) cut the phase short: not lost, just
  // never given the time to arrive, so not counted as missed.
  std::uint64_t in_flight_at_stop = 0;
  // Events whose token names no source the engine holds any more (closed, dropped or reset by
  // an injected fault): what an application would see. libpoll's own count, of tokens its book
  // has no registration for, is book_ghost_events.
  std::uint64_t ghost_events = 0;
  std::uint64_t peer_resets_observed = 0;  // injected resets that reached the registered end
  std::uint64_t toggles = 0;               // interest toggles applied
  double seconds = 0;                      // wall time of the measured phase(s)
  double target_rate = 0;                  // open loop: messages per second asked for (0: closed)
  // Open loop (and replay) only: the messages sent, and those the schedule asked for (its rate
  // times the phase's time; a replay's, its slots due before the phase stopped).
  // achieved_rate_ratio is one over the other, so that the closed-loop phases of a mixed run
  // neither add their sends nor dilute the target.
  std::uint64_t open_loop_sent = 0;
  double open_loop_intended = 0;
  Histogram latency;      // one way: from the (intended) send time to dispatch on the receiver
  Histogram uncorrected;  // from the actual send time to dispatch
  Histogram round_trip;   // closed loop: from a message's send to the dispatch of its answer

  // With a capture (run --capture): the captures that ran (one a poller and phase), packets
  // captured, messages matched to their packet, the two parts of a matched message's latency
  // and how well the two clocks agreed on it (capture/wire_matcher.hpp), what the kernel
  // dropped, messages left unmatched past the matcher's limit, messages left unmatched within
  // it (their packet missed, or a flow that lost its step), and packets left out of
  // --pcap-out's file past its limit.
  std::uint64_t captures = 0;
  std::uint64_t captured_packets = 0;
  std::uint64_t matched_messages = 0;
  std::uint64_t capture_over_limit = 0;
  std::uint64_t capture_unmatched = 0;
  std::uint64_t pcap_left_out = 0;
  std::uint64_t capture_kernel_drops = 0;
  std::uint64_t capture_interface_drops = 0;
  Histogram send_to_wire;
  Histogram wire_to_dispatch;
  Histogram clock_difference;

  // In a replay: the bytes of the messages sent and received (each its recorded payload, or the
  // 28-byte header it was padded to).
  std::uint64_t replay_bytes_sent = 0;
  std::uint64_t replay_bytes_received = 0;

  // The whole run only: libpoll's loop metrics and what registry calls cost, summed over
  // pollers, and what measuring cost pollscope per event.
  std::uint64_t polls = 0;
  std::uint64_t book_ghost_events = 0;
  std::uint64_t registers = 0;
  std::uint64_t reregisters = 0;
  std::uint64_t deregisters = 0;
  double blocked_seconds = 0;
  double measured_seconds = 0;
  double overhead_ns_per_event = 0;
  Histogram register_ns;
  Histogram reregister_ns;
  Histogram deregister_ns;

  // The whole run only: what it cost the machine, for the whole process tree
  // (cost/process_cost.hpp). syscalls is the kernel's count when kernel_syscalls is 1, else
  // the calls libpoll counted itself (waits and registry calls).
  double cpu_seconds = 0;  // user and system
  std::uint64_t voluntary_switches = 0;
  std::uint64_t involuntary_switches = 0;
  std::uint64_t syscalls = 0;
  std::uint64_t kernel_syscalls = 0;
};

}  // namespace pollscope
