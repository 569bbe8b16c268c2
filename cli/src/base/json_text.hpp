#pragma once

// Naming places and values of a JSON document in one-line error messages: shared by the scenario
// checker, the report comparison and the file readers.

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace pollscope {

// A JSON pointer (RFC 6901) one step down: "~" and "/" in a key are escaped as "~0" and "~1",
// and control characters and bytes that are not UTF-8 as one_line_text() does: the pointer names
// a place in a one-line message.
[[nodiscard]] std::string json_child(const std::string& path, std::string_view key);
[[nodiscard]] std::string json_child(const std::string& path, std::size_t index);

// "a string", "an integer"... for "expected X, got Y".
[[nodiscard]] std::string_view describe(const nlohmann::json& value);

// A value as JSON on one line, whatever it holds (control characters escaped, invalid UTF-8
// replaced), cut after 64 characters: a message names a value, it does not dump it.
[[nodiscard]] std::string shown(const nlohmann::json& value);

// Text as a JSON string on one line, cut like shown(): for names in messages.
[[nodiscard]] std::string quote(std::string_view text);

// Text from the command line or a report, safe in a one-line message: as it is when it is
// printable ASCII, else quoted as a JSON string (control characters escaped, invalid UTF-8
// replaced).
[[nodiscard]] std::string printable(std::string_view text);

// Finite or zero: JSON has no NaN or infinity, and a report must always parse.
[[nodiscard]] double finite_or_zero(double value);

}  // namespace pollscope
