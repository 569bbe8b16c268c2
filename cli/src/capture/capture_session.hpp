#pragma once

// A poller's capture of its own pairs' traffic: a libpoll::pcap::Capture registered with the
// poller's Poll beside the pairs, drained on each readable event, its packets matched to the
// poller's messages (wire_matcher.hpp) and, for --pcap-out, kept in the run's PcapSink.

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

namespace pollscope {

// CLOCK_REALTIME, the clock of the kernel's packet timestamps.
[[nodiscard]] std::uint64_t realtime_ns() noexcept;

class CaptureSession {
 public:
  // Captures the TCP and UDP traffic of `ports` on `interface`. Throws a Failure: exit 3, one
  // line, when this process may not capture or the interface cannot be opened.
  CaptureSession(const std::string& interface, const std::vector<std::uint16_t>& ports,
                 PcapSink* sink);

  [[nodiscard]] libpoll::pcap::Capture& source() noexcept { return capture_; }
  // Measures the offset from `clock` to CLOCK_REALTIME afresh for the phase's messages.
  void begin_phase(Framing framing, const Clock& clock);
  // Reads every packet there is; counts them in `figures`.
  void drain(Figures& figures);
  void on_message(const MessageRecord& record) { matcher_.on_message(record); }
  // Drains what is left, then records the phase's matched messages and what the kernel
  // dropped meanwhile.
  void finish_phase(Figures& figures);

 private:
  [[nodiscard]] std::string failed(std::string_view what, std::error_code error) const;

  libpoll::pcap::Capture capture_;
  std::string interface_;
  WireMatcher matcher_;
  PcapSink* sink_;
  int link_type_;
  libpoll::pcap::CaptureStats counted_;  // the kernel's counts at the end of the last phase
};

}  // namespace pollscope
