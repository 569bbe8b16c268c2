#include <array>
#include <utility>

#include "scenario/scenario.hpp"

namespace pollscope {

namespace {

template <typename Enum, std::size_t N>
std::string_view name_in(const std::array<std::pair<Enum, std::string_view>, N>& names,
                         Enum value) {
  for (const auto& [known, name] : names) {
    if (known == value) return name;
  }
  return "unknown";
}

constexpr std::array<std::pair<SocketKind, std::string_view>, 6> kSocketKindNames = {{
    {SocketKind::tcp, "tcp"},
    {SocketKind::unix_stream, "unix"},
    {SocketKind::udp, "udp"},
    {SocketKind::pipe, "pipe"},
    {SocketKind::waker, "waker"},
    {SocketKind::eventfd, "eventfd"},
}};

constexpr std::array<std::pair<PeerPlacement, std::string_view>, 3> kPeerPlacementNames = {{
    {PeerPlacement::same_loop, "same_loop"},
    {PeerPlacement::thread, "thread"},
    {PeerPlacement::process, "process"},
}};

constexpr std::array<std::pair<TogglePattern, std::string_view>, 5> kTogglePatternNames = {{
    {TogglePattern::none, "none"},
    {TogglePattern::readable_writable, "readable_writable"},
    {TogglePattern::write_interest, "write_interest"},
    {TogglePattern::reregister_cycle, "reregister_cycle"},
    {TogglePattern::deregister_cycle, "deregister_cycle"},
}};

constexpr std::array<std::pair<Comparison, std::string_view>, 5> kComparisonNames = {{
    {Comparison::less, "<"},
    {Comparison::less_equal, "<="},
    {Comparison::greater, ">"},
    {Comparison::greater_equal, ">="},
    {Comparison::equal, "=="},
}};

}  // namespace

std::string_view to_string(SocketKind kind) {
  return name_in(kSocketKindNames, kind);
}

std::string_view to_string(PeerPlacement peer) {
  return name_in(kPeerPlacementNames, peer);
}

std::string_view to_string(TogglePattern pattern) {
  return name_in(kTogglePatternNames, pattern);
}

std::string_view to_string(Comparison comparison) {
  return name_in(kComparisonNames, comparison);
}

}  // namespace pollscope
