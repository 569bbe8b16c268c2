#pragma once

// How messages are laid out and told apart in a stream. Every message starts with its two stamps
// (ends.hpp), then, from 24 bytes on, a sequence number that matches it to its packet in a
// capture. A phase's messages are all `payload_bytes` long, or, in a replay, of the sizes a pcap
// recorded: each then says its own length after the sequence number, and a payload shorter than
// that 28-byte header is padded up to it. The fields are in the host's byte order: both ends run
// on the same machine.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace pollscope {

// Where in a message its sequence number is: after the two 8-byte stamps.
inline constexpr std::size_t kSequenceOffset = 16;
inline constexpr std::size_t kSequencedBytes = 24;  // the smallest payload that carries one
// A variable-size message's length (all of it, header included), a 32-bit count.
inline constexpr std::size_t kLengthOffset = 24;
inline constexpr std::size_t kFramedHeaderBytes = 28;
inline constexpr std::uint32_t kMostFramedBytes = 65536;

class Framing {
 public:
  // Every message `bytes` long.
  [[nodiscard]] static constexpr Framing fixed(std::uint32_t bytes) { return Framing(bytes); }
  // Each message's length in its header.
  [[nodiscard]] static constexpr Framing variable() { return Framing(0); }

  [[nodiscard]] constexpr bool is_variable() const { return fixed_ == 0; }
  // The bytes of the message that carries `payload` bytes of a replay (a fixed size otherwise).
  [[nodiscard]] constexpr std::uint32_t message_bytes(std::uint32_t payload) const {
    return is_variable() ? std::clamp<std::uint32_t>(payload, kFramedHeaderBytes, kMostFramedBytes)
                         : fixed_;
  }
  // How many bytes of a message must be there before its length is known.
  [[nodiscard]] constexpr std::size_t length_known_after() const {
    return is_variable() ? kFramedHeaderBytes : fixed_;
  }
  // How many bytes of a message hold its sequence number and, when variable, its length.
  [[nodiscard]] constexpr std::size_t head_bytes() const {
    return is_variable() ? kFramedHeaderBytes : kSequencedBytes;
  }
  // The length of the message starting at `head`, which holds length_known_after() bytes. A
  // length out of bounds (a stream out of step) is taken as the nearest bound, so that reading
  // always moves on.
  [[nodiscard]] std::size_t length(const std::byte* head) const {
    if (!is_variable()) return fixed_;
    std::uint32_t length = 0;
    std::memcpy(&length, head + kLengthOffset, sizeof length);
    return std::clamp<std::uint32_t>(length, kFramedHeaderBytes, kMostFramedBytes);
  }
  // Writes a variable-size message's length into its header.
  static void write_length(std::byte* message, std::uint32_t bytes) {
    std::memcpy(message + kLengthOffset, &bytes, sizeof bytes);
  }

 private:
  explicit constexpr Framing(std::uint32_t fixed) : fixed_(fixed) {}
  std::uint32_t fixed_;
};

}  // namespace pollscope
