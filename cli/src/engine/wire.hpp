#pragma once

// What a worker process sends its parent through a pipe: its outcome, exactly (histograms bucket
// by bucket, every stored figure of the catalogue by name), or the failure that stopped it.

#include <string>
#include <variant>

#include "base/failure.hpp"
#include "outcome/outcome.hpp"

namespace pollscope {

[[nodiscard]] std::string encode_outcome(const RunOutcome& outcome);
[[nodiscard]] std::string encode_failure(const Failure& failure);

// The worker's outcome, or the Failure it sent (a message that does not parse is one too).
[[nodiscard]] std::variant<RunOutcome, Failure> decode_message(const std::string& text);

}  // namespace pollscope
