#pragma once

// What compare's files share among themselves.

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/failure.hpp"

namespace pollscope {

// A string of the report's context, which check_report has checked is one.
[[nodiscard]] std::string context_string(const nlohmann::json& report, const char* key);
// A checked report's optional boolean in its context; false when absent.
[[nodiscard]] bool context_flag(const nlohmann::json& report, const char* key);

// The scenario the baseline ran must be the one compared with, whose hash `other_hash` comes
// from `other` ("cur.json has", "tiny.json hashes to").
[[nodiscard]] std::optional<Problem> check_same_scenario(const nlohmann::json& baseline,
                                                         std::string_view file,
                                                         const std::string& other_hash,
                                                         std::string_view other);

}  // namespace pollscope
