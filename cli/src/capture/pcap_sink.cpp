#include "capture/pcap_sink.hpp"

#include <array>
#include <cstring>

namespace pollscope {

namespace {

constexpr std::uint32_t kNanosecondMagic = 0xa1b23c4d;  // pcap's magic for nanosecond stamps

template <typename... Fields>
void append(std::string& out, Fields... fields) {
  (out.append(reinterpret_cast<const char*>(&fields), sizeof fields), ...);
}

}  // namespace

std::string pcap_file_header(int link_type, std::uint32_t snapshot_length) {
  std::string header;
  // In the writer's byte order, which readers detect from the magic.
  append(header, kNanosecondMagic, std::uint16_t{2}, std::uint16_t{4}, std::int32_t{0},
         std::uint32_t{0}, snapshot_length, static_cast<std::uint32_t>(link_type));
  return header;
}

bool PcapSink::add(int link_type, std::uint32_t snapshot_length, std::uint64_t timestamp_ns,
                   std::span<const std::byte> data, std::uint32_t wire_length) {
  const std::lock_guard lock(mutex_);
  if (link_type_ < 0) {
    link_type_ = link_type;
    snapshot_length_ = snapshot_length;
  }
  if (records_.size() + 16 + data.size() > most_bytes_) {
    ++left_out_;
    return false;
  }
  append(records_, static_cast<std::uint32_t>(timestamp_ns / 1'000'000'000),
         static_cast<std::uint32_t>(timestamp_ns % 1'000'000'000),
         static_cast<std::uint32_t>(data.size()), wire_length);
  records_.append(reinterpret_cast<const char*>(data.data()), data.size());
  ++packets_;
  return true;
}

std::string PcapSink::file(int link_type) const {
  const std::lock_guard lock(mutex_);
  return pcap_file_header(link_type_ < 0 ? link_type : link_type_,
                          link_type_ < 0 ? 262144 : snapshot_length_) +
         records_;
}

std::uint64_t PcapSink::packets() const {
  const std::lock_guard lock(mutex_);
  return packets_;
}

std::uint64_t PcapSink::packets_left_out() const {
  const std::lock_guard lock(mutex_);
  return left_out_;
}

}  // namespace pollscope
