#pragma once

// A poller's capture of its own pairs' traffic: a libpoll::pcap::Capture registered with the
// poller's Poll beside the pairs, drained on each readable event, its packets matched to the
// poller's messages (wire_matcher.hpp) and, for --pcap-out, kept in the run's PcapSink.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "capture/pcap_sink.hpp"
#include "capture/wire_matcher.hpp"
#include "engine/clock.hpp"
#include "figures/figures.hpp"
#include "libpoll/pcap/capture.hpp"
#include "scenario/scenario.hpp"

namespace pollscope {

// CLOCK_REALTIME, the clock of the kernel's packet timestamps.
[[nodiscard]] std::uint64_t realtime_ns() noexcept;

// What a capture keeps of each packet: all of it, or its first 2 KiB, which hold the head of
// each message that starts there (capture_session.cpp says what each costs).
enum class Snapshot { whole_packets, message_heads };

// Whole packets when a phase replays a pcap over TCP: its messages say their own length, and a
// segment cut short would hide where the flow's next one starts. Message heads otherwise: a
// datagram's one head is at its start, and fixed-size messages keep their step across a cut
// (those whose heads it hid go unmatched, counted).
[[nodiscard]] Snapshot snapshot_for(const Scenario& scenario);

// The kernel's ring of a capture keeping `snapshot` of each packet, as mapped into the process.
[[nodiscard]] std::uint64_t ring_bytes(Snapshot snapshot);

class CaptureSession {
 public:
  // Captures the TCP and UDP traffic of `ports` on `interface`, keeping `snapshot` of each
  // packet (whole packets, which never lose a flow's step, unless told the scenario needs
  // less), matching at most `most_records` messages a phase. Throws a Failure: exit 3, one
  // line, when this process may not capture or the interface cannot be opened.
  CaptureSession(const std::string& interface, const std::vector<std::uint16_t>& ports,
                 PcapSink* sink, Snapshot snapshot = Snapshot::whole_packets,
                 std::size_t most_records = WireMatcher::kMostRecords);

  [[nodiscard]] libpoll::pcap::Capture& source() noexcept { return capture_; }
  // Measures the offset from `clock` to CLOCK_REALTIME afresh for the phase's messages.
  void begin_phase(Framing framing, const Clock& clock);
  // Reads every packet there is; counts them in `figures`. Throws a Failure (exit 3, "out of
  // memory") once matching a packet ran out of memory.
  void drain(Figures& figures);
  void on_message(const MessageRecord& record) { matcher_.on_message(record); }
  // Drains what is left, then records the phase's matched messages and what the kernel
  // dropped meanwhile.
  void finish_phase(Figures& figures);

 private:
  [[nodiscard]] std::string failed(std::string_view what, std::error_code error) const;
  void match(const libpoll::pcap::Packet& packet) noexcept;

  std::uint32_t snapshot_length_;  // first: the capture is opened with it
  libpoll::pcap::Capture capture_;
  std::string interface_;
  WireMatcher matcher_;
  PcapSink* sink_;
  int link_type_;
  libpoll::pcap::CaptureStats counted_;  // the kernel's counts at the end of the last phase
  bool out_of_memory_ = false;           // matching a packet ran out of memory: it stopped
  bool inject_out_of_memory_;            // the test seam (capture_session.cpp)
};

}  // namespace pollscope
