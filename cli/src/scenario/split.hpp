#pragma once

// How pairs are shared out: among worker processes, then among each process's poller threads.
// The first ones take the odd pairs out, so the first poller holds the largest share.

#include <cstdint>

namespace pollscope {

// The share of `total` that part `index` of `parts` gets.
[[nodiscard]] constexpr std::uint64_t share_of(std::uint64_t total, std::uint64_t parts,
                                               std::uint64_t index) noexcept {
  return total / parts + (index < total % parts ? 1 : 0);
}

// Where part `index`'s share starts: the shares of the parts before it, added up.
[[nodiscard]] constexpr std::uint64_t start_of(std::uint64_t total, std::uint64_t parts,
                                               std::uint64_t index) noexcept {
  return index * (total / parts) + (index < total % parts ? index : total % parts);
}

// The largest share: the first part's.
[[nodiscard]] constexpr std::uint64_t largest_share(std::uint64_t total,
                                                    std::uint64_t parts) noexcept {
  return share_of(total, parts, 0);
}

}  // namespace pollscope
