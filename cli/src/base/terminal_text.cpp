#include "base/terminal_text.hpp"

#include <fmt/format.h>

namespace pollscope {

std::string terminal_text(std::string_view text) {
  std::string shown;
  shown.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    const auto next = i + 1 < text.size() ? static_cast<unsigned char>(text[i + 1]) : 0;
    if (byte < 0x20 || byte == 0x7f) {
      shown += fmt::format("\\x{:02x}", byte);
    } else if (byte == 0xc2 && next >= 0x80 && next <= 0x9f) {
      shown += fmt::format("\\u{:04x}", next);
      ++i;
    } else if (byte == '\\') {
      shown += "\\\\";
    } else {
      shown += static_cast<char>(byte);
    }
  }
  return shown;
}

}  // namespace pollscope
