#pragma once

// Process-wide: which Poll each descriptor number is registered with. This is how the book
// catches one source registered with two Polls, which no single Poll could see. Lock-free on
// the common path: one compare-and-swap on register, one on deregister.

#include <cstdint>
#include <memory>

namespace libpoll::detail {

class PollState;

// Every PollState has a process-unique, never reused id; 0 means "no owner".
inline constexpr std::uint64_t kNoOwner = 0;

[[nodiscard]] std::uint64_t next_poll_id() noexcept;

// Claims `fd` for `owner`: returns kNoOwner when `fd` was free (now claimed) or already
// `owner`'s, otherwise the id of the Poll that holds it (and nothing changes). Descriptors beyond
// the table's reach (over 4 million) are never tracked and always "free".
[[nodiscard]] std::uint64_t claim_fd(int fd, std::uint64_t owner) noexcept;
// Moves `fd` from `from` to `to`; false when its owner is no longer `from`.
bool transfer_fd(int fd, std::uint64_t from, std::uint64_t to) noexcept;
// The Poll that claims `fd`, or kNoOwner. A snapshot: the claim may change right after.
[[nodiscard]] std::uint64_t owner_of(int fd) noexcept;
// Frees `fd` if `owner` holds it.
void release_fd(int fd, std::uint64_t owner) noexcept;

// Live PollStates by id, so that a Poll can ask another whether its claim is still real.
void add_live_poll(std::uint64_t id, const std::shared_ptr<PollState>& state);
void remove_live_poll(std::uint64_t id) noexcept;
[[nodiscard]] std::shared_ptr<PollState> find_live_poll(std::uint64_t id) noexcept;

}  // namespace libpoll::detail
