#pragma once

// The fixture every libpoll suite uses: one Poll per test, created on the backend the test is
// instantiated for, with teardown checks that the test left no descriptor open.

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "libpoll/libpoll.hpp"

namespace libpoll::testing {

/// Whether this build and kernel offer the io_uring backend.
bool io_uring_available();

/// The backends every parameterised suite runs on: all that this platform supports, or the one
/// named by LIBPOLL_TEST_BACKEND.
std::vector<Backend> test_backends();

/// For INSTANTIATE_TEST_SUITE_P: "epoll", "poll", "io_uring".
std::string backend_test_name(const ::testing::TestParamInfo<Backend>& info);

/// The number of open descriptors of this process, leaving out io_uring rings (kept for reuse).
std::size_t count_open_fds();

/// Raises this process's soft descriptor limit (to at most the hard limit) so that `needed`
/// descriptors can be open at once; false, with the reason in the test log, when the hard limit
/// is too low. Many shells start with a soft limit of 1024.
bool ensure_fd_limit(std::size_t needed);

class PollTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override;
  void TearDown() override;

  Poll& poll() { return *poll_; }
  // io_uring binds a registration to its file when the next poll submits it; epoll and poll(2)
  // at the call. Tests of what happens to a registered file after its descriptor is closed
  // poll once (without waiting, events dropped) so that every backend holds the file first.
  void take_hold_of_registered_files();
  const Registry& registry() { return poll_->registry(); }

  Events events_{64};

 private:
  std::size_t fds_at_start_ = 0;
  std::optional<Poll> poll_;
};

// One io_uring Poll per test, with each kind of ring: the parameter is PollOptions::single_thread
// (a shared ring, or one bound to the thread that polls). Skipped where this build or kernel has
// no io_uring backend.
class IoUringRingsTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override;

  std::optional<Poll> poll_;
};

// PollTest with a directory of its own under /tmp for socket files, removed afterwards (and
// checked gone).
class PollTestWithDirectory : public PollTest {
 protected:
  void SetUp() override;
  void TearDown() override;

  [[nodiscard]] const std::string& directory() const { return directory_; }
  [[nodiscard]] std::string path(std::string_view name) const {
    return directory_ + "/" + std::string(name);
  }

 private:
  std::string directory_;
};

}  // namespace libpoll::testing

/// Instantiates an IoUringRingsTest-derived suite once per kind of ring ("shared",
/// "single_thread").
#define LIBPOLL_INSTANTIATE_FOR_RINGS(Suite)                                               \
  INSTANTIATE_TEST_SUITE_P(Rings, Suite, ::testing::Bool(),                                \
                           [](const ::testing::TestParamInfo<bool>& param) {               \
                             return std::string(param.param ? "single_thread" : "shared"); \
                           })

/// Instantiates a PollTest-derived suite once per backend.
#define LIBPOLL_INSTANTIATE_FOR_BACKENDS(Suite)                                      \
  INSTANTIATE_TEST_SUITE_P(Backends, Suite,                                          \
                           ::testing::ValuesIn(::libpoll::testing::test_backends()), \
                           ::libpoll::testing::backend_test_name)
