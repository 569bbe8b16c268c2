#pragma once

// The packets of a run, kept for `run --pcap-out`: a pcap file (nanosecond timestamps, the
// format tcpdump and Wireshark read) built in memory by the pollers of one process and written
// once the run is over, through the same atomic writer as the report.

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>

namespace pollscope {

class PcapSink {
 public:
  // Beyond this the packets are counted, not kept.
  static constexpr std::size_t kMostBytes = std::size_t{512} << 20;

  // `most_bytes` of records at most (smaller in tests).
  explicit PcapSink(std::size_t most_bytes = kMostBytes) : most_bytes_(most_bytes) {}

  // Adds one packet; false when it is left out, past the file's limit. The first sets the
  // file's link type and snapshot length. Thread-safe.
  bool add(int link_type, std::uint32_t snapshot_length, std::uint64_t timestamp_ns,
           std::span<const std::byte> data, std::uint32_t wire_length);

  // The whole file: a header (even with no packet, with `link_type` then) and the packets.
  [[nodiscard]] std::string file(int link_type = 1) const;
  [[nodiscard]] std::uint64_t packets() const;
  [[nodiscard]] std::uint64_t packets_left_out() const;

 private:
  std::size_t most_bytes_;
  mutable std::mutex mutex_;
  std::string records_;
  int link_type_ = -1;
  std::uint32_t snapshot_length_ = 0;
  std::uint64_t packets_ = 0;
  std::uint64_t left_out_ = 0;
};

// The 24-byte header of a pcap file with nanosecond timestamps.
[[nodiscard]] std::string pcap_file_header(int link_type, std::uint32_t snapshot_length);

}  // namespace pollscope
