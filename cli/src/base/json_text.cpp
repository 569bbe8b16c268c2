#include "base/json_text.hpp"

#include <algorithm>
#include <cmath>

#include "base/terminal_text.hpp"

namespace pollscope {

std::string json_child(const std::string& path, std::string_view key) {
  std::string result = path;
  result += '/';
  for (char c : one_line_text(key)) {
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

namespace {

constexpr std::size_t kShownLimit = 64;
constexpr auto kReplace = nlohmann::json::error_handler_t::replace;

// A string as JSON, cut after kShownLimit characters; ASCII when `ascii`, so that a later cut
// cannot split a character (one cut here is replaced, like any invalid UTF-8).
std::string shown_string(const std::string& text, bool ascii) {
  if (text.size() <= kShownLimit) return nlohmann::json(text).dump(-1, ' ', ascii, kReplace);
  return nlohmann::json(text.substr(0, kShownLimit) + "...").dump(-1, ' ', ascii, kReplace);
}

// Appends `value` as one-line ASCII JSON until `text` passes kShownLimit. Every level writes a
// character first, so the recursion is never deeper than the limit, however deep the value.
void append_shown(const nlohmann::json& value, std::string& text) {
  if (text.size() > kShownLimit) return;
  if (value.is_string()) {
    text += shown_string(value.get_ref<const std::string&>(), true);
  } else if (value.is_object() || value.is_array()) {
    text += value.is_object() ? '{' : '[';
    bool first = true;
    for (auto member = value.begin(); member != value.end(); ++member) {
      if (text.size() > kShownLimit) return;
      if (!first) text += ',';
      first = false;
      if (value.is_object()) text += shown_string(member.key(), true) + ':';
      append_shown(*member, text);
    }
    text += value.is_object() ? '}' : ']';
  } else {
    text += value.dump(-1, ' ', true, kReplace);
  }
}

}  // namespace

std::string shown(const nlohmann::json& value) {
  // dump() writes NaN and infinities as null; only a document built in C++ can hold them.
  if (value.is_number_float() && !std::isfinite(value.get<double>())) return "a non-finite number";
  if (value.is_string()) return shown_string(value.get_ref<const std::string&>(), false);
  std::string text;
  append_shown(value, text);
  if (text.size() > kShownLimit) {
    text.resize(kShownLimit);
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
