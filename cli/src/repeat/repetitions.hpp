#pragma once

// Several runs of one scenario as one report (`pollscope run --repeat N`). Each repetition's
// figures are kept under "repetitions", so that the performance gate can judge their spread;
// the headline figures are their medians, except the correctness counts (any figure compared
// exactly: missed, spurious and ghost events, leaks), which take the worst repetition's, so
// that one bad repetition is never voted away.

#include <vector>

#include <nlohmann/json.hpp>

namespace pollscope {

// Combines the reports of the repetitions, in the order they ran (at least one): the first's
// context; medians (or worst values) of overall and per-phase figures; the leak checks of the
// repetition that leaked most; each threshold passing only when it passed in every repetition,
// with the median of its actual values; the verdict interrupted or fail when any repetition's
// was.
[[nodiscard]] nlohmann::json combine_repetitions(const std::vector<nlohmann::json>& reports);

// The median of `values` (sorted in place); the lower middle value when `integral`, so that a
// count stays a count. 0 when there are none.
[[nodiscard]] double median_of(std::vector<double>& values, bool integral = false);

}  // namespace pollscope
