#pragma once

// The BPF filter that keeps a capture to a run's own traffic: its TCP and UDP packets on the
// loopback addresses, to or from the ports of its pairs.

#include <cstdint>
#include <string>
#include <vector>

namespace pollscope {

// "(tcp or udp) and (port 5000 or port 5001 ...)": every port when there are few, otherwise the
// range from the lowest to the highest (a BPF program has at most 4096 instructions, and a
// c10k run has 20,000 ports). `ports` must not be empty.
[[nodiscard]] std::string capture_filter(std::vector<std::uint16_t> ports);

}  // namespace pollscope
