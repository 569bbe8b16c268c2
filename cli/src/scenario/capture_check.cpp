// The "capture" key, and what a scenario must be for its packets to be captured.

#include "scenario/checker.hpp"

namespace pollscope {

std::optional<std::pair<std::string, std::string>> capture_unfit(const Scenario& scenario) {
  const SocketKind kind = scenario.sockets.kind;
  if (kind != SocketKind::tcp && kind != SocketKind::udp) {
    return std::pair{std::string("/sockets/kind"),
                     fmt::format("{} pairs have no packets to capture (only tcp and udp)",
                                 quote(to_string(kind)))};
  }
  // Each side of a split pair would capture the same packets with a session of its own, and a
  // peer process cannot share the pcap file: one capture per pair until that is designed.
  if (scenario.sockets.peer != PeerPlacement::same_loop) {
    return std::pair{std::string("/sockets/peer"),
                     fmt::format("a captured run keeps both ends of a pair in one loop "
                                 "(peer \"same_loop\"), got {}",
                                 quote(to_string(scenario.sockets.peer)))};
  }
  for (std::size_t i = 0; i < scenario.phases.size(); ++i) {
    // A replay's messages are framed with their length, after the sequence number: never short.
    if (replay_of(scenario.phases[i]) == nullptr && scenario.phases[i].payload_bytes < 24) {
      return std::pair{fmt::format("/phases/{}/payload_bytes", i),
                       fmt::format("a captured run needs at least 24 bytes a message (the send "
                                   "stamps and the sequence number), got {}",
                                   scenario.phases[i].payload_bytes)};
    }
  }
  return std::nullopt;
}

namespace scenario_check {

bool Checker::check_capture(const json& value, const std::string& path, Scenario* scenario) {
  if (!expect_object(value, path) || !check_keys(value, path, kCaptureKeys)) return false;
  CaptureSpec capture;
  if (const auto found = value.find("interface"); found != value.end()) {
    const std::string at = json_child(path, "interface");
    if (!read_string(*found, at, &capture.interface)) return false;
    // IFNAMSIZ is 16 with the terminating NUL.
    if (capture.interface.empty() || capture.interface.size() > 15) {
      return fail(at, fmt::format("must be an interface name of 1 to 15 characters, got {}",
                                  shown(*found)));
    }
  }
  if (const auto unfit = capture_unfit(*scenario)) {
    return fail(unfit->first, "with \"capture\": " + unfit->second);
  }
  scenario->capture = std::move(capture);
  return true;
}

}  // namespace scenario_check

}  // namespace pollscope
