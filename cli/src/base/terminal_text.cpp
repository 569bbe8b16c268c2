#include "base/terminal_text.hpp"

#include <fmt/format.h>

namespace pollscope {

namespace {

// The length of the UTF-8 character `text` starts with, or 0 when it starts with no valid one
// (a stray continuation byte, an overlong form, a surrogate, past U+10FFFF, a cut sequence).
std::size_t utf8_length(std::string_view text) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  unsigned char low = 0x80;  // the second byte's range, narrowed for the leads that need it
  unsigned char high = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) low = 0xa0;
    if (lead == 0xed) high = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) low = 0x90;
    if (lead == 0xf4) high = 0x8f;
  } else {
    return 0;
  }
  if (text.size() < length || byte(1) < low || byte(1) > high) return 0;
  for (std::size_t i = 2; i < length; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xbf) return 0;
  }
  return length;
}

std::string escaped(std::string_view text, bool double_backslash) {
  std::string shown;
  shown.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const auto byte = static_cast<unsigned char>(text[i]);
    const std::size_t length = utf8_length(text.substr(i));
    if (length == 0 || byte < 0x20 || byte == 0x7f) {
      shown += fmt::format("\\x{:02x}", byte);
      ++i;
      continue;
    }
    const auto next = length == 2 ? static_cast<unsigned char>(text[i + 1]) : 0;
    if (byte == 0xc2 && next <= 0x9f) {
      shown += fmt::format("\\u{:04x}", next);
    } else if (byte == '\\' && double_backslash) {
      shown += "\\\\";
    } else {
      shown += text.substr(i, length);
    }
    i += length;
  }
  return shown;
}

}  // namespace

std::string terminal_text(std::string_view text) {
  return escaped(text, true);
}

std::string one_line_text(std::string_view text) {
  return escaped(text, false);
}

}  // namespace pollscope
