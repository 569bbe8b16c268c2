#include "scenario/scenario.hpp"

namespace pollscope {

std::string_view to_string(SocketKind kind) {
  switch (kind) {
    case SocketKind::tcp:
      return "tcp";
    case SocketKind::unix_stream:
      return "unix";
    case SocketKind::udp:
      return "udp";
    case SocketKind::pipe:
      return "pipe";
  }
  return "unknown";
}

std::string_view to_string(TogglePattern pattern) {
  switch (pattern) {
    case TogglePattern::none:
      return "none";
    case TogglePattern::readable_writable:
      return "readable_writable";
    case TogglePattern::write_interest:
      return "write_interest";
    case TogglePattern::reregister_cycle:
      return "reregister_cycle";
    case TogglePattern::deregister_cycle:
      return "deregister_cycle";
  }
  return "unknown";
}

std::string_view to_string(Comparison comparison) {
  switch (comparison) {
    case Comparison::less:
      return "<";
    case Comparison::less_equal:
      return "<=";
    case Comparison::greater:
      return ">";
    case Comparison::greater_equal:
      return ">=";
    case Comparison::equal:
      return "==";
  }
  return "?";
}

}  // namespace pollscope
