#include "support/poll_fixture.hpp"

#include <sys/resource.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace libpoll::testing {

bool io_uring_available() {
  static const bool available = Poll::create(Backend::io_uring).has_value();
  return available;
}

std::vector<Backend> test_backends() {
  std::vector<Backend> all = {Backend::epoll, Backend::poll};
  // Where libpoll was built without liburing, or the kernel refuses io_uring, BackendTest checks
  // the error instead.
  if (io_uring_available()) all.push_back(Backend::io_uring);
  const char* forced = std::getenv("LIBPOLL_TEST_BACKEND");
  if (forced == nullptr || *forced == '\0') return all;
  for (Backend backend : all) {
    if (to_string(backend) == forced) return {backend};
  }
  ADD_FAILURE() << "LIBPOLL_TEST_BACKEND names an unknown backend: " << forced;
  return all;
}

void IoUringRingsTest::SetUp() {
  if (!io_uring_available()) GTEST_SKIP() << "no io_uring backend in this build or kernel";
  poll_.emplace(
      Poll::create(PollOptions{.backend = Backend::io_uring, .single_thread = GetParam()}).value());
}

std::string backend_test_name(const ::testing::TestParamInfo<Backend>& info) {
  return std::string(to_string(info.param));
}

std::size_t count_open_fds() {
  std::size_t count = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    // The io_uring backend keeps the rings of destroyed Polls for the next one: no leak.
    std::error_code error;
    if (std::filesystem::read_symlink(entry.path(), error) == "anon_inode:[io_uring]") continue;
    ++count;
  }
  return count;
}

bool ensure_fd_limit(std::size_t needed) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return false;
  if (limit.rlim_cur >= needed) return true;
  if (limit.rlim_max < needed) {
    ADD_FAILURE() << "needs " << needed << " descriptors but the hard RLIMIT_NOFILE is "
                  << limit.rlim_max;
    return false;
  }
  limit.rlim_cur = limit.rlim_max;
  return ::setrlimit(RLIMIT_NOFILE, &limit) == 0;
}

void PollTest::SetUp() {
  fds_at_start_ = count_open_fds();
  auto created = Poll::create(GetParam());
  ASSERT_TRUE(created) << created.error().message();
  ASSERT_EQ(created->backend(), GetParam());
  poll_.emplace(std::move(*created));
}

void PollTest::take_hold_of_registered_files() {
  if (GetParam() != Backend::io_uring) return;
  Events scratch(64);
  ASSERT_TRUE(poll_->poll(scratch, std::chrono::milliseconds(0)));
}

void PollTest::TearDown() {
  poll_.reset();
  EXPECT_EQ(count_open_fds(), fds_at_start_) << "the test left descriptors open";
}

void PollTestWithDirectory::SetUp() {
  PollTest::SetUp();
  std::string pattern = "/tmp/libpoll-test-XXXXXX";
  ASSERT_NE(::mkdtemp(pattern.data()), nullptr) << std::strerror(errno);
  directory_ = pattern;
}

void PollTestWithDirectory::TearDown() {
  if (!directory_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
    EXPECT_FALSE(std::filesystem::exists(directory_));
  }
  PollTest::TearDown();
}

}  // namespace libpoll::testing
