// Interest::priority end to end: TCP out-of-band data is the priority condition every backend
// can watch. A registration for priority alone must hear of it as one that also asks for
// readable does (io_uring's poll requests ignore EPOLLPRI in their wake-up filter).

#include <sys/socket.h>

#include <gtest/gtest.h>

#include <optional>
#include <utility>

#include "libpoll/libpoll.hpp"
#include "support/expect_events.hpp"
#include "support/poll_fixture.hpp"

namespace libpoll {
namespace {

using namespace std::chrono_literals;
using net::TcpListener;
using net::TcpStream;
using testing::expect_events;
using testing::expect_no_events;
using testing::kPriority;
using testing::kReadable;
using testing::PollTest;

constexpr Token kListener{1};
constexpr Token kServer{2};

class PriorityTest : public PollTest {
 protected:
  // A connected loopback pair: the client's end, and the accepted end (neither registered).
  void connect() {
    auto listener = TcpListener::bind(net::SocketAddr::loopback_v4()).value();
    client_.emplace(TcpStream::connect(listener.local_addr().value()).value());
    ASSERT_TRUE(registry().register_source(listener, kListener, Interest::readable));
    expect_events(poll(), events_, {{kListener, kReadable}});
    auto accepted = listener.accept();
    ASSERT_TRUE(registry().deregister_source(listener));
    ASSERT_TRUE(accepted) << accepted.error().message();
    server_.emplace(std::move(accepted->first));
  }

  // One byte of urgent data from the client.
  void send_out_of_band() { ASSERT_EQ(::send(client_->as_raw_fd(), "!", 1, MSG_OOB), 1); }

  // Closed before the fixture counts the descriptors left open.
  void TearDown() override {
    client_.reset();
    server_.reset();
    PollTest::TearDown();
  }

  std::optional<TcpStream> client_;
  std::optional<TcpStream> server_;
};

TEST_P(PriorityTest, OutOfBandDataWakesARegistrationForPriorityAlone) {
  ASSERT_NO_FATAL_FAILURE(connect());
  ASSERT_TRUE(registry().register_source(*server_, kServer, Interest::priority));
  expect_no_events(poll(), events_);  // every backend holds the registration now

  ASSERT_NO_FATAL_FAILURE(send_out_of_band());
  expect_events(poll(), events_, {{kServer, kPriority}});
  ASSERT_TRUE(registry().deregister_source(*server_));
}

// Writable and priority: the first event says writable; urgent data is a new edge.
TEST_P(PriorityTest, OutOfBandDataWakesARegistrationForWritableAndPriority) {
  ASSERT_NO_FATAL_FAILURE(connect());
  ASSERT_TRUE(
      registry().register_source(*server_, kServer, Interest::writable | Interest::priority));
  expect_events(poll(), events_, {{kServer, testing::kWritable}});

  ASSERT_NO_FATAL_FAILURE(send_out_of_band());
  expect_events(poll(), events_, {{kServer, kPriority}});
  ASSERT_TRUE(registry().deregister_source(*server_));
}

// Ordinary data is readable, not priority: io_uring's completions carry the wake-up's key,
// which for a socket names EPOLLPRI at every arrival.
TEST_P(PriorityTest, OrdinaryDataIsNoPriorityEvent) {
  ASSERT_NO_FATAL_FAILURE(connect());
  ASSERT_TRUE(
      registry().register_source(*server_, kServer, Interest::readable | Interest::priority));
  expect_no_events(poll(), events_);

  ASSERT_TRUE(client_->write("data"));
  for (const Event& event : expect_events(poll(), events_, {{kServer, kReadable}})) {
    EXPECT_FALSE(event.is_priority()) << to_string(event);
  }
  ASSERT_TRUE(registry().deregister_source(*server_));
}

LIBPOLL_INSTANTIATE_FOR_BACKENDS(PriorityTest);

}  // namespace
}  // namespace libpoll
