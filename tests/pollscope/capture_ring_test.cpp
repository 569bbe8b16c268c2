// The kernel's ring a capture asks for: sized to a replay's messages when every phase replays, so
// that several pollers' whole-packet rings fit the default memory budget, and large enough that a
// phase's every frame fits in it undrained.

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "capture/capture_session.hpp"
#include "figures/figures.hpp"
#include "replay/replay_trace.hpp"
#include "scenario/scenario.hpp"

namespace pollscope {
namespace {

Scenario replaying(std::size_t messages) {
  auto trace = std::make_shared<ReplayTrace>();
  trace->messages.assign(messages, ReplayMessage{0, 0, 60'000});
  Scenario scenario;
  scenario.sockets.kind = SocketKind::tcp;
  scenario.phases.resize(1);
  scenario.phases[0].load = Replay{"t.pcap", 1, trace};
  return scenario;
}

constexpr std::uint64_t kDefaultWholeRing = std::uint64_t{256} << 20;

TEST(CaptureRingTest, AReplaysRingHoldsItsMessagesFramesAndNoMoreThanTheDefault) {
  Scenario scenario = replaying(30);
  CaptureRing ring = ring_for(scenario);
  EXPECT_EQ(ring.snapshot, Snapshot::whole_packets);
  EXPECT_GT(ring.buffer_bytes, 0u);
  // 30 messages: 8 slots each and 64 spare, each slot a whole packet.
  EXPECT_GE(ring.buffer_bytes, (30 * 8 + 64) * 65'600u);
  EXPECT_LE(ring_bytes(ring), std::uint64_t{40} << 20);
  EXPECT_EQ(ring_bytes(ring_for(replaying(1'000'000))), kDefaultWholeRing);

  // A phase that is not a replay sends as many messages as its time allows: the default.
  scenario.phases.resize(2);
  EXPECT_EQ(ring_bytes(ring_for(scenario)), kDefaultWholeRing);
  // Message heads keep their own default ring.
  scenario = replaying(30);
  scenario.sockets.kind = SocketKind::udp;
  EXPECT_EQ(ring_for(scenario).snapshot, Snapshot::message_heads);
  EXPECT_EQ(ring_bytes(ring_for(scenario)), std::uint64_t{64} << 20);
}

// A connected TCP pair on loopback; `a` sends to `b`.
struct TcpPair {
  int a = -1;
  int b = -1;
  TcpPair() {
    const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    auto* raw = reinterpret_cast<sockaddr*>(&address);
    EXPECT_EQ(::bind(listener, raw, sizeof address), 0);
    EXPECT_EQ(::listen(listener, 1), 0);
    EXPECT_EQ(::getsockname(listener, raw, &length), 0);
    a = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_EQ(::connect(a, raw, sizeof address), 0);
    b = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    ::close(listener);
    const int on = 1;
    ::setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  }
  ~TcpPair() {
    ::close(a);
    ::close(b);
  }
  [[nodiscard]] std::uint16_t port() const {
    sockaddr_in address{};
    socklen_t length = sizeof address;
    ::getsockname(a, reinterpret_cast<sockaddr*>(&address), &length);
    return ntohs(address.sin_port);
  }
};

// Sends `messages` messages of 60,000 bytes from a to b (b read by a thread to the end), and
// says what the capture, drained only then, counted.
Figures send_undrained(const CaptureRing& ring, std::size_t messages) {
  TcpPair pair;
  CaptureSession session("lo", {pair.port()}, nullptr, ring);
  std::thread reader([&] {
    std::vector<char> buffer(1 << 16);
    while (::read(pair.b, buffer.data(), buffer.size()) > 0) {
    }
  });
  const std::vector<char> payload(60'000, 'x');
  for (std::size_t i = 0; i < messages; ++i) {
    EXPECT_EQ(::write(pair.a, payload.data(), payload.size()),
              static_cast<ssize_t>(payload.size()));
  }
  ::shutdown(pair.a, SHUT_WR);
  reader.join();
  Figures figures;
  session.finish_phase(figures);
  return figures;
}

TEST(CaptureRingTest, AReplaysRingHoldsEveryFrameOfItsPhaseUndrained) {
  if (::geteuid() != 0) GTEST_SKIP() << "capturing needs root or CAP_NET_RAW";
  constexpr std::size_t kMessages = 200;
  const Figures sized = send_undrained(ring_for(replaying(kMessages)), kMessages);
  EXPECT_EQ(sized.capture_kernel_drops, 0u);
  EXPECT_GE(sized.captured_packets, kMessages);
  // The same traffic into a ring of 16 slots: the kernel drops, and says so.
  const Figures small = send_undrained({Snapshot::whole_packets, 16 * 65'728}, kMessages);
  EXPECT_GT(small.capture_kernel_drops, 0u);
}

}  // namespace
}  // namespace pollscope
