#include "json_text.hpp"

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

}  // namespace pollscope
