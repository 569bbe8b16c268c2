#include "replay/replay_trace.hpp"

#include <fcntl.h>
#include <pcap/pcap.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <unordered_map>

#include <fmt/format.h>

#include "capture/packet_view.hpp"
#include "io/files.hpp"

namespace pollscope {

namespace {

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};
struct PcapCloser {
  void operator()(pcap_t* handle) const { pcap_close(handle); }
};
using PcapHandle = std::unique_ptr<pcap_t, PcapCloser>;

// A flow is its transport and its two endpoints, whichever way a packet goes; `forward` is the
// source of its first packet.
struct FlowState {
  std::uint32_t provisional = 0;  // in the order of first packets
  std::string forward;
};

std::string endpoint(std::span<const std::byte> address, std::uint16_t port) {
  std::string text(reinterpret_cast<const char*>(address.data()), address.size());
  text += static_cast<char>(port >> 8);
  text += static_cast<char>(port & 0xff);
  return text;
}

// Builds the trace packet by packet; the offsets are made relative at the end.
class TraceBuilder {
 public:
  void add(const TransportPacket& packet, std::uint64_t timestamp_ns) {
    std::string source = endpoint(packet.source_address, packet.source_port);
    std::string destination = endpoint(packet.destination_address, packet.destination_port);
    std::string key(1, packet.transport == Transport::tcp ? 't' : 'u');
    key += std::min(source, destination) + '|' + std::max(source, destination);
    auto [found, first] = flows_.try_emplace(std::move(key));
    if (first) found->second = {static_cast<std::uint32_t>(flows_.size() - 1), source};
    if (packet.payload_length == 0) return;  // a handshake or an acknowledgement
    if (found->second.forward != source) {
      ++trace_.reverse_packets;
      return;
    }
    const auto bytes = static_cast<std::uint32_t>(packet.payload_length);
    trace_.messages.push_back({timestamp_ns, found->second.provisional, bytes});
    trace_.bytes += bytes;
    trace_.largest = std::max(trace_.largest, bytes);
  }

  // What the read holds at worst so far.
  [[nodiscard]] std::uint64_t held() const {
    return trace_.messages.size() * kReadMessageBytes + flows_.size() * kReadFlowBytes;
  }
  [[nodiscard]] std::uint64_t messages() const { return trace_.messages.size(); }
  [[nodiscard]] std::uint64_t flows() const { return flows_.size(); }

  ReplayTrace finish(std::string file, std::uint64_t packets) && {
    // Flows numbered again among those replayed, keeping the order of their first packets.
    std::vector<bool> replayed(flows_.size(), false);
    for (const ReplayMessage& message : trace_.messages) replayed[message.flow] = true;
    std::vector<std::uint32_t> number(flows_.size(), 0);
    for (std::size_t i = 0; i < number.size(); ++i) {
      if (replayed[i]) number[i] = trace_.flows++;
    }
    std::uint64_t first = UINT64_MAX;
    for (const ReplayMessage& message : trace_.messages) first = std::min(first, message.offset_ns);
    for (ReplayMessage& message : trace_.messages) {
      message.flow = number[message.flow];
      message.offset_ns -= first;
    }
    std::stable_sort(
        trace_.messages.begin(), trace_.messages.end(),
        [](const ReplayMessage& a, const ReplayMessage& b) { return a.offset_ns < b.offset_ns; });
    trace_.file = std::move(file);
    trace_.packets = packets;
    return std::move(trace_);
  }

 private:
  std::unordered_map<std::string, FlowState> flows_;
  ReplayTrace trace_;
};

using FileHandle = std::unique_ptr<std::FILE, FileCloser>;

// Opens `path` if it is a regular file. Opened without waiting and checked before a byte is
// read: a FIFO with no writer must not hang validation, and libpcap would read a directory or a
// pipe as a file cut short, or refuse a piped pcap for its magic.
std::variant<FileHandle, TraceProblem> open_regular(const std::string& path, off_t* size) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return TraceProblem{fmt::format("{}: cannot be read: {}", path, std::strerror(errno))};
  struct stat status {};
  if (::fstat(fd, &status) != 0 || !S_ISREG(status.st_mode)) {
    const int error = errno;
    ::close(fd);
    return TraceProblem{S_ISREG(status.st_mode) || status.st_mode == 0
                            ? fmt::format("{}: cannot be read: {}", path, std::strerror(error))
                            : fmt::format("{}: not a regular file ({}): give a pcap or pcapng file",
                                          path, kind_of_file(status.st_mode))};
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  *size = status.st_size;
  FileHandle file(::fdopen(fd, "rb"));
  if (!file) {
    const int error = errno;
    ::close(fd);
    return TraceProblem{fmt::format("{}: cannot be read: {}", path, std::strerror(error))};
  }
  return file;
}

// How a file stores its packets' times, by its magic number: pcap's 32-bit seconds and fraction
// (of microseconds, or of nanoseconds for the nanosecond magic), or pcapng's 64-bit count.
enum class Stamps { pcap_microseconds, pcap_nanoseconds, pcapng };

std::uint32_t magic_value(const unsigned char* magic) {
  return (std::uint32_t{magic[0]} << 24) | (std::uint32_t{magic[1]} << 16) |
         (std::uint32_t{magic[2]} << 8) | magic[3];
}

Stamps stamps_of(const unsigned char* magic) {
  const std::uint32_t value = magic_value(magic);
  if (value == 0x0a0d0d0a) return Stamps::pcapng;
  if (value == 0xa1b23c4dU || value == 0x4d3cb2a1U) return Stamps::pcap_nanoseconds;
  return Stamps::pcap_microseconds;  // and libpcap's other pcap variants
}

// The smallest file header of a pcap file (24 bytes) or a pcapng one (a section header block,
// 28 bytes), by the magic it starts with; 0 for neither.
std::size_t smallest_header(const unsigned char* magic) {
  const std::uint32_t value = magic_value(magic);
  if (value == 0x0a0d0d0a) return 28;
  for (const std::uint32_t pcap : {0xa1b2c3d4U, 0xd4c3b2a1U, 0xa1b23c4dU, 0x4d3cb2a1U}) {
    if (value == pcap) return 24;
  }
  return 0;
}

struct OpenedTrace {
  PcapHandle handle;
  Stamps stamps;
};

// Opens `path` with libpcap, or says why not: the reasons libpcap gives for a file header are
// reworded so that a wrong or short file reads as such.
std::variant<OpenedTrace, TraceProblem> open_trace(const std::string& path) {
  off_t size = 0;
  auto opened = open_regular(path, &size);
  if (auto* problem = std::get_if<TraceProblem>(&opened)) return std::move(*problem);
  FileHandle file = std::get<FileHandle>(std::move(opened));
  unsigned char magic[4] = {};
  const std::size_t got = std::fread(magic, 1, sizeof magic, file.get());
  std::rewind(file.get());
  char error[PCAP_ERRBUF_SIZE] = {};
  // A pcap file read in its own precision: libpcap then hands its fraction field over as stored,
  // not scaled (where a bad field would be scaled out of recognition).
  const Stamps stamps = got < sizeof magic ? Stamps::pcapng : stamps_of(magic);
  const int precision = stamps == Stamps::pcap_microseconds ? PCAP_TSTAMP_PRECISION_MICRO
                                                            : PCAP_TSTAMP_PRECISION_NANO;
  pcap_t* handle = pcap_fopen_offline_with_tstamp_precision(file.get(), precision, error);
  if (handle != nullptr) {
    (void)file.release();  // pcap_close closes it
    return OpenedTrace{PcapHandle(handle), stamps};
  }
  const auto smallest = got < sizeof magic ? 0 : smallest_header(magic);
  if (got < sizeof magic || static_cast<std::uint64_t>(size) < smallest) {
    return TraceProblem{fmt::format("{}: the file header: cut short ({} bytes)", path, size)};
  }
  if (std::strstr(error, "truncated") != nullptr) {
    return TraceProblem{fmt::format("{}: the file header: cut short ({})", path, error)};
  }
  if (std::strstr(error, "unknown file format") != nullptr) {
    return TraceProblem{
        fmt::format("{}: the file header: not a pcap or pcapng file (wrong magic number "
                    "{:02x}{:02x}{:02x}{:02x})",
                    path, magic[0], magic[1], magic[2], magic[3])};
  }
  return TraceProblem{fmt::format("{}: the file header: {}", path, error)};
}

// A packet's time in nanoseconds since 1970, or why it cannot be read. A pcap file stores its
// seconds and fraction as unsigned 32-bit fields (good to 2106), which libpcap copies into
// signed ones, sign-extended: taken back as the unsigned values stored. A pcapng file's time is
// a 64-bit count, which may go past what 64 bits of nanoseconds hold (the year 2554).
std::variant<std::uint64_t, std::string> timestamp_ns(const pcap_pkthdr& header, Stamps stamps) {
  constexpr auto kLatestSecond = (UINT64_MAX - 999'999'999U) / 1'000'000'000U;
  const bool micro = stamps == Stamps::pcap_microseconds;
  const auto fraction = static_cast<std::uint32_t>(header.ts.tv_usec);
  if (fraction >= (micro ? 1'000'000U : 1'000'000'000U)) {
    return fmt::format("invalid: its timestamp's fraction field is {} ({}: at most {})", fraction,
                       micro ? "microseconds" : "nanoseconds", micro ? 999'999 : 999'999'999);
  }
  const std::uint64_t seconds = stamps == Stamps::pcapng
                                    ? static_cast<std::uint64_t>(header.ts.tv_sec)
                                    : static_cast<std::uint32_t>(header.ts.tv_sec);
  if (seconds > kLatestSecond) {
    return fmt::format(
        "its timestamp ({} s since 1970) is outside what pollscope reads (1970 to the year 2554)",
        seconds);
  }
  return seconds * 1'000'000'000U + (micro ? fraction * std::uint64_t{1000} : fraction);
}

// A trace that would hold more than the budget is refused as soon as that is known: the rest of
// it is not read (a 3,000,000-message trace grew to 77 MiB before a 64 MiB budget refused it).
TraceProblem over_budget(const std::string& path, const TraceBuilder& builder, std::uint64_t packet,
                         std::uint64_t budget_mib) {
  return TraceProblem{fmt::format(
      "{}: by packet {} the read holds {} MiB ({} messages x {} bytes, {} flows x {} bytes), over "
      "the {} MiB memory budget (--memory-budget MIB raises it)",
      path, packet, (builder.held() + (1 << 20) - 1) >> 20, builder.messages(), kReadMessageBytes,
      builder.flows(), kReadFlowBytes, budget_mib)};
}

// Why libpcap stopped before packet `index`. A pcapng interface block after the first one
// that has another link type or snapshot length is refused by libpcap, which reads a file as
// of one of each: it comes before the packet, so the line says where it stands, not that the
// packet is at fault.
TraceProblem unreadable(const std::string& path, std::uint64_t index, const char* why) {
  if (std::strstr(why, "truncated") != nullptr) {
    return TraceProblem{
        fmt::format("{}: packet {}: truncated: the file ends inside it ({})", path, index, why)};
  }
  if (std::strstr(why, "an interface has") != nullptr) {
    return TraceProblem{fmt::format(
        "{}: an interface block before packet {}: {} (pollscope reads a pcapng file whose "
        "interfaces share one link type and snapshot length: split it by interface)",
        path, index, why)};
  }
  if (std::strstr(why, "bigger than snaplen") != nullptr) {
    return TraceProblem{fmt::format(
        "{}: packet {}: invalid: it holds more bytes than its interface's snapshot length ({})",
        path, index, why)};
  }
  return TraceProblem{fmt::format("{}: packet {}: unreadable ({})", path, index, why)};
}

TraceProblem no_payload(const std::string& path, const ReplayTrace& trace, std::uint64_t packets) {
  return TraceProblem{
      trace.reverse_packets > 0
          ? fmt::format("{}: no TCP or UDP payload in the direction of a flow's first packet "
                        "(only {} in the other direction)",
                        path, trace.reverse_packets)
          : fmt::format("{}: no TCP or UDP payload in any of its {} packets", path, packets)};
}

}  // namespace

std::variant<ReplayTrace, TraceProblem> read_replay_trace(
    const std::string& path, std::optional<std::uint64_t> memory_budget_mib) {
  const std::uint64_t most =
      memory_budget_mib ? *memory_budget_mib << 20 : std::numeric_limits<std::uint64_t>::max();
  auto opened = open_trace(path);
  if (auto* problem = std::get_if<TraceProblem>(&opened)) return std::move(*problem);
  pcap_t* handle = std::get<OpenedTrace>(opened).handle.get();
  const Stamps stamps = std::get<OpenedTrace>(opened).stamps;
  const int link_type = pcap_datalink(handle);
  if (!supported_link_type(link_type)) {
    const char* name = pcap_datalink_val_to_name(link_type);
    return TraceProblem{fmt::format(
        "{}: the file header: link type {} ({}) is not one pollscope reads (EN10MB, LINUX_SLL, "
        "LINUX_SLL2, NULL, LOOP, RAW)",
        path, name != nullptr ? name : "unknown", link_type)};
  }
  TraceBuilder builder;
  std::uint64_t index = 0;
  for (;;) {
    pcap_pkthdr* header = nullptr;
    const u_char* data = nullptr;
    const int read = pcap_next_ex(handle, &header, &data);
    if (read == PCAP_ERROR_BREAK) break;  // the end of the file
    ++index;
    if (read != 1) return unreadable(path, index, pcap_geterr(handle));
    const auto frame = std::as_bytes(std::span(data, header->caplen));
    const auto parsed = parse_frame(frame, link_type);
    if (const auto* other = std::get_if<NotTransport>(&parsed)) {
      if (!other->truncated && !other->invalid) continue;  // ARP, ICMP, a fragment: not replayed
      return TraceProblem{fmt::format("{}: packet {}: {}: {}", path, index,
                                      other->invalid ? "invalid" : "truncated", other->reason)};
    }
    const auto timestamp = timestamp_ns(*header, stamps);
    if (const auto* why = std::get_if<std::string>(&timestamp)) {
      return TraceProblem{fmt::format("{}: packet {}: {}", path, index, *why)};
    }
    builder.add(std::get<TransportPacket>(parsed), std::get<std::uint64_t>(timestamp));
    if (builder.held() > most) return over_budget(path, builder, index, *memory_budget_mib);
  }
  ReplayTrace trace = std::move(builder).finish(path, index);
  if (trace.messages.empty()) return no_payload(path, trace, index);
  return trace;
}

}  // namespace pollscope
