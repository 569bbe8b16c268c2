// capture_udp: a libpcap capture and a UDP socket on one libpoll Poll.
//
// It captures UDP datagrams to one loopback port (a BPF filter), sends COUNT datagrams (default
// 5) to a socket bound there, and on each readable event drains both: the socket's datagrams
// and the capture's packets, with their kernel timestamps. It exits 0 once both have seen every
// datagram; 77 (the usual "skipped") when this process may not capture (it needs root or
// CAP_NET_RAW).
//
//   capture_udp [COUNT]

#include <libpoll/libpoll.hpp>
#include <libpoll/pcap/capture.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

using namespace std::chrono_literals;
using libpoll::Interest;
using libpoll::Token;
using libpoll::net::SocketAddr;
using libpoll::net::UdpSocket;

constexpr Token kCapture{0};
constexpr Token kSocket{1};

int fail(const char* what, const std::string& why) {
  std::fprintf(stderr, "capture_udp: %s: %s\n", what, why.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const int count = argc > 1 ? std::atoi(argv[1]) : 5;
  if (count < 1 || count > 1000) return fail("COUNT", "must be 1..1000");

  auto poll = libpoll::Poll::create();
  if (!poll) return fail("creating the poll", poll.error().message());
  const libpoll::Registry& registry = poll->registry();
  auto receiver = UdpSocket::bind(SocketAddr::loopback_v4());
  auto sender = UdpSocket::bind(SocketAddr::loopback_v4());
  if (!receiver || !sender) return fail("binding 127.0.0.1", "no UDP socket");
  const auto to = receiver->local_addr().value();

  // The capture: immediate mode, non-blocking, nanosecond timestamps, one port.
  std::string why;
  auto capture = libpoll::pcap::Capture::open(
      {.interface = "lo", .filter = "udp and dst port " + std::to_string(to.port())}, &why);
  if (!capture && capture.error() == std::errc::operation_not_permitted) {
    std::printf("capture_udp: skipped: capturing needs root or CAP_NET_RAW (%s)\n", why.c_str());
    return 77;
  }
  if (!capture) return fail("opening the capture", why);
  if (auto ok = registry.register_source(*capture, kCapture, Interest::readable); !ok) {
    return fail("registering the capture", ok.error().message());
  }
  if (auto ok = registry.register_source(*receiver, kSocket, Interest::readable); !ok) {
    return fail("registering the socket", ok.error().message());
  }

  for (int i = 0; i < count; ++i) {
    const std::string text = "datagram " + std::to_string(i);
    (void)sender->send_to(std::as_bytes(std::span(text)), to);
  }

  int received = 0;
  int captured = 0;
  libpoll::Events events(16);
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while ((received < count || captured < count) && std::chrono::steady_clock::now() < deadline) {
    if (auto polled = poll->poll(events, 1s); !polled)
      return fail("polling", polled.error().message());
    for (const libpoll::Event& event : events) {
      if (event.token() == kCapture) {
        // Drain until would-block, as for any source.
        auto drained = capture->drain([&](const libpoll::pcap::Packet& packet) {
          std::printf("  captured %u bytes at %llu ns\n", packet.wire_length,
                      static_cast<unsigned long long>(packet.timestamp_ns));
          ++captured;
        });
        if (!drained) return fail("capturing", drained.error().message());
      } else {
        std::byte buffer[256];
        while (auto got = receiver->recv_from(buffer)) ++received;
      }
    }
  }

  // Deregister before close: the Capture's destructor calls pcap_close.
  (void)registry.deregister_source(*capture);
  (void)registry.deregister_source(*receiver);
  std::printf("%d datagrams received, %d captured\n", received, captured);
  return received == count && captured == count ? 0 : 1;
}
