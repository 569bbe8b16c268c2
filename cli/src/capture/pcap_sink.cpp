#include "capture/pcap_sink.hpp"

#include <algorithm>
#include <cstring>

namespace pollscope {

namespace {

constexpr std::uint32_t kNanosecondMagic = 0xa1b23c4d;  // pcap's magic for nanosecond stamps
constexpr std::size_t kRecordHeaderBytes = 16;

// Copies `fields` one after another to `out`, in the writer's byte order (readers detect it
// from the magic); returns the byte after them.
template <typename... Fields>
char* put(char* out, Fields... fields) noexcept {
  ((std::memcpy(out, &fields, sizeof fields), out += sizeof fields), ...);
  return out;
}

void fill_header(std::array<char, 24>& header, int link_type,
                 std::uint32_t snapshot_length) noexcept {
  put(header.data(), kNanosecondMagic, std::uint16_t{2}, std::uint16_t{4}, std::int32_t{0},
      std::uint32_t{0}, snapshot_length, static_cast<std::uint32_t>(link_type));
}

}  // namespace

std::string pcap_file_header(int link_type, std::uint32_t snapshot_length) {
  std::array<char, 24> header{};
  fill_header(header, link_type, snapshot_length);
  return {header.data(), header.size()};
}

std::unique_ptr<char[]> PcapSink::new_block(std::size_t bytes) {
  return std::make_unique_for_overwrite<char[]>(bytes);  // its pages are taken as written
}

PcapSink::PcapSink(std::size_t most_bytes, Allocate allocate)
    : most_bytes_(most_bytes), allocate_(allocate) {
  fill_header(header_, 1, 262144);
}

// Room for `record` bytes at the end of the last block, or in a new one within the limit. Once
// memory ran out, none: the file keeps the packets until then, without gaps after.
bool PcapSink::room_for(std::size_t record) noexcept {
  if (out_of_memory_) return false;
  if (!blocks_.empty() && blocks_.back().size - blocks_.back().used >= record) return true;
  const std::size_t size = std::min(most_bytes_ - allocated_, std::max(kBlockBytes, record));
  if (size < record) return false;
  try {
    blocks_.push_back(Block{allocate_(size), size, 0});
  } catch (...) {  // std::bad_alloc: the run goes on, and what came after is counted left out
    out_of_memory_ = true;
    return false;
  }
  allocated_ += size;
  return true;
}

bool PcapSink::add(int link_type, std::uint32_t snapshot_length, std::uint64_t timestamp_ns,
                   std::span<const std::byte> data, std::uint32_t wire_length) noexcept {
  const std::lock_guard lock(mutex_);
  if (!header_set_) {
    fill_header(header_, link_type, snapshot_length);
    header_set_ = true;
  }
  if (!room_for(kRecordHeaderBytes + data.size())) {
    ++left_out_;
    return false;
  }
  Block& block = blocks_.back();
  char* out =
      put(block.bytes.get() + block.used, static_cast<std::uint32_t>(timestamp_ns / 1'000'000'000),
          static_cast<std::uint32_t>(timestamp_ns % 1'000'000'000),
          static_cast<std::uint32_t>(data.size()), wire_length);
  if (!data.empty()) std::memcpy(out, data.data(), data.size());
  block.used += kRecordHeaderBytes + data.size();
  ++packets_;
  return true;
}

std::vector<std::string_view> PcapSink::file() const {
  const std::lock_guard lock(mutex_);
  std::vector<std::string_view> pieces{std::string_view(header_.data(), header_.size())};
  for (const Block& block : blocks_) pieces.emplace_back(block.bytes.get(), block.used);
  return pieces;
}

std::uint64_t PcapSink::packets() const {
  const std::lock_guard lock(mutex_);
  return packets_;
}

std::uint64_t PcapSink::packets_left_out() const {
  const std::lock_guard lock(mutex_);
  return left_out_;
}

bool PcapSink::ran_out_of_memory() const {
  const std::lock_guard lock(mutex_);
  return out_of_memory_;
}

}  // namespace pollscope
