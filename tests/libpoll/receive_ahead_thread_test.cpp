// PollOptions::receive_ahead across threads: a stream read on one thread while another polls,
// and deregistered from a thread that does not poll. On io_uring the poller's reaps write the
// stream's store while the reader takes from it; the other backends ignore the option, and the
// same user-visible behaviour is asserted on every one.

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <thread>

#include "libpoll/libpoll.hpp"
#include "support/io_helpers.hpp"
#include "support/poll_fixture.hpp"
#include "support/threads.hpp"

namespace libpoll {
namespace {

using namespace std::chrono_literals;
using net::UnixStream;
using testing::spin_until;

constexpr Token kStream{1};

class ReceiveAheadThreadTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    auto made = Poll::create(PollOptions{.backend = GetParam(), .receive_ahead = true});
    ASSERT_TRUE(made) << made.error().message();
    poll_.emplace(std::move(*made));
    auto pair = UnixStream::pair();
    ASSERT_TRUE(pair) << pair.error().message();
    ours_.emplace(std::move(pair->first));
    peer_.emplace(std::move(pair->second));
  }
  void TearDown() override {
    stop_.store(true);
    if (poller_.joinable()) poller_.join();
  }
  // A thread that polls until the test ends, counting the stream's events.
  void start_polling() {
    poller_ = std::thread([this] {
      Events events(16);
      while (!stop_.load()) {
        if (!poll_->poll(events, 10ms)) continue;
        for (const Event& event : events) {
          if (event.token() == kStream) events_seen_.fetch_add(1);
        }
      }
    });
  }
  // Reads what `stream` has now, until would-block or the end of the stream.
  static std::string read_now(UnixStream& stream) {
    std::string got;
    std::array<char, 4096> buffer{};
    for (;;) {
      auto read = stream.read(std::span(buffer));
      if (!read || *read == 0) return got;
      got.append(buffer.data(), *read);
    }
  }

  std::optional<Poll> poll_;
  std::optional<UnixStream> ours_;
  std::optional<UnixStream> peer_;
  std::thread poller_;
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> events_seen_{0};
};

// The test's thread writes and reads while the poller reaps: every byte arrives once, in order.
TEST_P(ReceiveAheadThreadTest, ReadsOnAnotherThreadThanThePollerKeepTheOrder) {
  ASSERT_TRUE(poll_->registry().register_source(*ours_, kStream, Interest::readable));
  start_polling();
  constexpr std::size_t kTotal = std::size_t{1} << 20;
  std::string sent(kTotal, '\0');
  for (std::size_t i = 0; i < kTotal; ++i) sent[i] = static_cast<char>('a' + (i / 3 + i) % 26);
  std::size_t written = 0;
  std::string got;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (got.size() < kTotal && std::chrono::steady_clock::now() < deadline) {
    if (written < kTotal) {
      auto wrote = peer_->write(std::string_view(sent).substr(written, 7'919));
      if (wrote) written += *wrote;
    }
    got += read_now(*ours_);
    if (written == kTotal && got.size() < kTotal) {
      // All sent: what is left arrives with the poller's next events.
      const std::size_t seen = events_seen_.load();
      (void)spin_until([&] { return events_seen_.load() > seen; }, 200ms);
    }
  }
  ASSERT_EQ(got.size(), kTotal);
  EXPECT_TRUE(got == sent) << "the bytes arrived out of order";
  ASSERT_TRUE(poll_->registry().deregister_source(*ours_));
}

// A deregister from the test's thread while the poller polls: the bytes the stream was sent
// before it are read first, then the ones sent after, straight from the socket.
TEST_P(ReceiveAheadThreadTest, ADeregisterFromAnotherThreadKeepsTheBytes) {
  start_polling();
  for (int round = 0; round < 50; ++round) {
    ASSERT_TRUE(poll_->registry().register_source(*ours_, kStream, Interest::readable));
    const std::size_t seen = events_seen_.load();
    const std::string before = "before " + std::to_string(round) + ",";
    ASSERT_TRUE(peer_->write(before));
    ASSERT_TRUE(spin_until([&] { return events_seen_.load() > seen; }));
    ASSERT_TRUE(poll_->registry().deregister_source(*ours_));
    ASSERT_TRUE(peer_->write("after"));
    std::string got;
    ASSERT_TRUE(spin_until([&] {
      got += read_now(*ours_);
      return got.size() >= before.size() + 5;
    }));
    EXPECT_EQ(got, before + "after");
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, ReceiveAheadThreadTest,
                         ::testing::ValuesIn(testing::test_backends()), testing::backend_test_name);

}  // namespace
}  // namespace libpoll
