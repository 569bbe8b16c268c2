#pragma once

// The packets of a run, kept for `run --pcap-out`: a pcap file (nanosecond timestamps, the
// format tcpdump and Wireshark read) built in memory by the pollers of one process and written
// once the run is over, through the same atomic writer as the report.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pollscope {

class PcapSink {
 public:
  // Beyond this the packets are counted, not kept (`run` lowers it to what the memory budget
  // leaves).
  static constexpr std::size_t kMostBytes = std::size_t{512} << 20;
  // The records are kept in blocks of this size (the last one smaller, to end at the limit): the
  // sink grows a block at a time, never by doubling one buffer, and never holds more than its
  // limit, even for a moment.
  static constexpr std::size_t kBlockBytes = std::size_t{1} << 20;

  // Allocates a block; a test replaces it with one that fails as memory running out does.
  using Allocate = std::unique_ptr<char[]> (*)(std::size_t bytes);
  static std::unique_ptr<char[]> new_block(std::size_t bytes);

  // `most_bytes` of records at most (smaller in tests).
  explicit PcapSink(std::size_t most_bytes = kMostBytes, Allocate allocate = new_block);

  // Adds one packet; false when it is left out: past the file's limit, or once memory ran out
  // (the packets kept until then stay, the later ones are counted). The first sets the file's
  // link type and snapshot length. Thread-safe. It throws nothing: it runs in libpcap's
  // callback, C frames that an exception must not cross (std::terminate, no report).
  bool add(int link_type, std::uint32_t snapshot_length, std::uint64_t timestamp_ns,
           std::span<const std::byte> data, std::uint32_t wire_length) noexcept;

  // The whole file, in pieces to write one after another (no copy of the packets): its header
  // (with link type 1, Ethernet, when no packet came), then the records. The pieces point into
  // the sink: valid while it lives and takes no more packets.
  [[nodiscard]] std::vector<std::string_view> file() const;
  [[nodiscard]] std::uint64_t packets() const;
  [[nodiscard]] std::uint64_t packets_left_out() const;
  [[nodiscard]] std::size_t most_bytes() const { return most_bytes_; }
  // Whether an allocation failed: the packets left out since were not past the limit.
  [[nodiscard]] bool ran_out_of_memory() const;

 private:
  struct Block {
    std::unique_ptr<char[]> bytes;
    std::size_t size = 0;
    std::size_t used = 0;
  };
  [[nodiscard]] bool room_for(std::size_t record) noexcept;

  std::size_t most_bytes_;
  Allocate allocate_;
  mutable std::mutex mutex_;
  std::vector<Block> blocks_;
  std::size_t allocated_ = 0;  // the blocks' sizes, added up: never past most_bytes_
  std::array<char, 24> header_{};
  bool header_set_ = false;  // by the first packet
  bool out_of_memory_ = false;
  std::uint64_t packets_ = 0;
  std::uint64_t left_out_ = 0;
};

// The 24-byte header of a pcap file with nanosecond timestamps.
[[nodiscard]] std::string pcap_file_header(int link_type, std::uint32_t snapshot_length);

}  // namespace pollscope
