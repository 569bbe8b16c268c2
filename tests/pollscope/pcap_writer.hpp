#pragma once

// Writes pcap files of synthetic Ethernet/IPv4 TCP and UDP conversations with libpcap
// (pcap_open_dead and pcap_dump), for the replay's sample and tests: nothing is downloaded, and
// the same calls give the same bytes.

#include <pcap/pcap.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace pollscope::test_support {

// One conversation: a TCP connection or a UDP exchange between a client and a server.
struct Conversation {
  bool tcp = true;
  std::uint32_t client_ip = 0x0a000001;  // 10.0.0.1
  std::uint32_t server_ip = 0x0a000002;
  std::uint16_t client_port = 40000;
  std::uint16_t server_port = 80;
  std::uint32_t client_sequence = 1000;  // TCP: the next byte each side sends
  std::uint32_t server_sequence = 5000;
};

// Frames are kept until finish() (or the destructor) writes them in the order of their times,
// so that conversations may be written one after another.
class PcapWriter {
 public:
  // A file of `link_type` frames (DLT_EN10MB for the conversations below), microsecond stamps.
  explicit PcapWriter(const std::string& path, int link_type = DLT_EN10MB);
  ~PcapWriter();
  PcapWriter(const PcapWriter&) = delete;
  PcapWriter& operator=(const PcapWriter&) = delete;

  // TCP's three-way handshake, the client first.
  void handshake(Conversation& conversation, std::uint64_t time_us);
  // `payload` bytes from one side: a TCP segment (PSH|ACK) or a UDP datagram.
  void send(Conversation& conversation, bool from_client, std::uint64_t time_us,
            std::uint32_t payload);
  // A TCP acknowledgement without payload.
  void acknowledge(Conversation& conversation, bool from_client, std::uint64_t time_us);
  // An ARP request: a frame that is neither TCP nor UDP.
  void arp(std::uint64_t time_us);
  // Any frame, of which the file keeps the first `kept` bytes (all when larger).
  void frame(std::span<const std::byte> bytes, std::uint64_t time_us, std::size_t kept = SIZE_MAX);
  // Writes the frames, in time order (frames of the same time in the order given), and closes.
  void finish();

 private:
  struct Pending {
    std::uint64_t time_us;
    std::vector<std::byte> bytes;
    std::size_t kept;
  };
  void segment(Conversation& conversation, bool from_client, std::uint64_t time_us,
               std::uint8_t flags, std::uint32_t payload);

  pcap_t* dead_ = nullptr;
  pcap_dumper_t* dumper_ = nullptr;
  std::uint16_t next_id_ = 1;
  std::vector<Pending> pending_;
};

// The shipped sample (scenarios/replay.pcap): four TCP request/response connections and two UDP
// query/response exchanges, with handshakes, acknowledgements and one ARP frame.
void write_sample_pcap(const std::string& path);

}  // namespace pollscope::test_support
