#include "base/json_text.hpp"

#include <algorithm>
#include <cmath>

namespace pollscope {

std::string json_child(const std::string& path, std::string_view key) {
  std::string result = path;
  result += '/';
  for (char c : key) {
    if (c == '~') {
      result += "~0";
    } else if (c == '/') {
      result += "~1";
    } else {
      result += c;
    }
  }
  return result;
}

std::string json_child(const std::string& path, std::size_t index) {
  return path + '/' + std::to_string(index);
}

std::string_view describe(const nlohmann::json& value) {
  using value_t = nlohmann::json::value_t;
  switch (value.type()) {
    case value_t::null:
      return "null";
    case value_t::boolean:
      return "a boolean";
    case value_t::number_integer:
    case value_t::number_unsigned:
      return "an integer";
    case value_t::number_float:
      return "a number";
    case value_t::string:
      return "a string";
    case value_t::array:
      return "an array";
    case value_t::object:
      return "an object";
    case value_t::binary:
      return "binary data";
    case value_t::discarded:
      break;
  }
  return "a discarded value";
}

std::string shown(const nlohmann::json& value) {
  constexpr std::size_t kLimit = 64;
  constexpr auto kReplace = nlohmann::json::error_handler_t::replace;
  // dump() writes NaN and infinities as null; only a document built in C++ can hold them.
  if (value.is_number_float() && !std::isfinite(value.get<double>())) return "a non-finite number";
  if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    if (text.size() <= kLimit) return value.dump(-1, ' ', false, kReplace);
    // A character cut in two is replaced, like any invalid UTF-8.
    return nlohmann::json(text.substr(0, kLimit) + "...").dump(-1, ' ', false, kReplace);
  }
  // ASCII only, so that the cut cannot split a character.
  std::string text = value.dump(-1, ' ', true, kReplace);
  if (text.size() > kLimit) {
    text.resize(kLimit);
    text += "...";
  }
  return text;
}

std::string quote(std::string_view text) {
  return shown(nlohmann::json(std::string(text)));
}

std::string printable(std::string_view text) {
  const bool plain = std::all_of(text.begin(), text.end(), [](char c) {
    return static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f;
  });
  if (plain) return std::string(text);
  return nlohmann::json(std::string(text))
      .dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
}

double finite_or_zero(double value) {
  return std::isfinite(value) ? value : 0.0;
}

}  // namespace pollscope
