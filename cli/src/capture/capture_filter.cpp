#include "capture/capture_filter.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace pollscope {

namespace {

constexpr std::size_t kMostListedPorts = 32;

}  // namespace

std::string capture_filter(std::vector<std::uint16_t> ports) {
  std::sort(ports.begin(), ports.end());
  ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
  const std::string transport = "(tcp or udp) and (host 127.0.0.1 or host ::1)";
  if (ports.size() > kMostListedPorts) {
    return fmt::format("{} and portrange {}-{}", transport, ports.front(), ports.back());
  }
  std::string listed;
  for (const std::uint16_t port : ports) {
    listed += fmt::format("{}port {}", listed.empty() ? "" : " or ", port);
  }
  return fmt::format("{} and ({})", transport, listed);
}

}  // namespace pollscope
