// Poll::audit while other threads change registrations: a correct program is never flagged for
// a change that raced the audit.

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "libpoll/libpoll.hpp"
#include "support/poll_fixture.hpp"

namespace libpoll {
namespace {

using testing::PollTest;

class AuditThreadTest : public PollTest {};

std::string describe(const AuditReport& report) {
  std::string text;
  for (const auto& found : report.discrepancies) text += to_string(found) + "\n";
  return text;
}

// A thread registering, reregistering under a new token and deregistering pipes through a
// registry clone until stopped; every call of a correct program, each expected to succeed.
class Churn {
 public:
  explicit Churn(Registry clone) : clone_(std::move(clone)), thread_([this] { run(); }) {}
  Churn(const Churn&) = delete;
  Churn& operator=(const Churn&) = delete;
  ~Churn() { (void)stop(); }

  std::size_t stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return failures_.load();
  }
  [[nodiscard]] std::size_t rounds() const { return rounds_.load(); }

 private:
  void run() {
    for (std::size_t round = 0; round < 200000 && !stop_.load(); ++round) {
      auto& receiver = pipes_[round % pipes_.size()].second;
      const Token token{1000 + 2 * round};
      if (!clone_.register_source(receiver, token, Interest::readable) ||
          !clone_.reregister_source(receiver, Token{token.value + 1}, Interest::readable) ||
          !clone_.deregister_source(receiver)) {
        failures_.fetch_add(1);
      }
      rounds_.fetch_add(1);
    }
  }
  static std::vector<std::pair<net::PipeSender, net::PipeReceiver>> make_pipes() {
    std::vector<std::pair<net::PipeSender, net::PipeReceiver>> made;
    for (int i = 0; i < 8; ++i) made.push_back(net::pipe().value());
    return made;
  }

  Registry clone_;
  std::vector<std::pair<net::PipeSender, net::PipeReceiver>> pipes_ = make_pipes();
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> failures_{0};
  std::atomic<std::size_t> rounds_{0};
  std::thread thread_;  // last: it starts once everything above is made
};

// Audits taken while another thread registers, reregisters and deregisters find nothing: each
// change raced the audit's read of the book and of the selector's list, and none is a leak.
TEST_P(AuditThreadTest, AuditsRacingRegistryChangesFindNothing) {
  auto [sender, receiver] = net::pipe().value();
  ASSERT_TRUE(registry().register_source(receiver, Token{1}, Interest::readable));
  Churn churn(registry().clone());
  std::size_t audits = 0;
  std::string findings;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (std::chrono::steady_clock::now() < deadline && (audits < 300 || churn.rounds() < 300)) {
    auto report = poll().audit();
    ASSERT_TRUE(report) << report.error().message();
    if (!report->clean() && findings.empty()) findings = describe(*report);
    ++audits;
    if (GetParam() == Backend::io_uring && audits % 16 == 0) {
      ASSERT_TRUE(poll().poll(events_, std::chrono::milliseconds(0)));
    }
  }
  EXPECT_EQ(churn.stop(), 0u);
  EXPECT_TRUE(findings.empty()) << "after " << audits << " audits:\n" << findings;
  ASSERT_TRUE(registry().deregister_source(receiver));
}

}  // namespace

LIBPOLL_INSTANTIATE_FOR_BACKENDS(AuditThreadTest);

}  // namespace libpoll
