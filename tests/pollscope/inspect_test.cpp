// `pollscope inspect`'s work function, called without argv: it checks its request itself, as the
// command line does, so that a caller that skips the command line cannot hand it an interval
// sleep_for cannot take.

#include "inspect/inspect.hpp"

#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cmath>
#include <limits>
#include <sstream>

#include <gtest/gtest.h>

#include "base/exit_code.hpp"
#include "inspect/process_files.hpp"

namespace pollscope {
namespace {

TEST(RunInspect, AWatchIntervalThatIsNotAFiniteNumberInRangeIsBadInput) {
  constexpr double kInfinity = std::numeric_limits<double>::infinity();
  for (const double seconds : {std::nan(""), kInfinity, -kInfinity, 0.0, -1.0}) {
    SCOPED_TRACE(seconds);
    InspectRequest request;
    request.pids = {::getpid()};
    request.watch_seconds = seconds;
    request.samples = 2;
    std::ostringstream out;
    std::ostringstream err;
    EXPECT_EQ(run_inspect(request, out, err), kExitInvalidInput);
    EXPECT_EQ(out.str(), "") << "nothing inspected";
    const std::string message = err.str();
    EXPECT_EQ(message.find('\n'), message.size() - 1) << "one line: " << message;
    EXPECT_NE(message.find("pollscope: inspect: --watch: must be 0.001 to 3600 seconds, got "),
              std::string::npos)
        << message;
  }
}

TEST(RunInspect, AWatchIntervalInRangeSamplesAsAsked) {
  InspectRequest request;
  request.pids = {::getpid()};
  request.watch_seconds = kShortestWatch;
  request.samples = 2;
  request.json = true;
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(run_inspect(request, out, err), kExitPassed) << err.str();
  EXPECT_EQ(err.str(), "");
  EXPECT_NE(out.str().find("\"kind\": \"inspect\""), std::string::npos) << out.str();
}

// The descriptor table is listed, then each epoll set's fdinfo read: a busy program may close a
// set in between, and give its number to a pipe. Both are a set gone while it was read, skipped
// (it was an environment failure, exit 3, for the reused number). Here the listing says what it
// said before the program changed: three epoll sets, of which only one still is.
TEST(ReadEpollSets, ANumberThatNamesNoEpollSetAnyMoreIsSkipped) {
  const int epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  ASSERT_GE(epoll_fd, 0);
  int ends[2];
  ASSERT_EQ(::pipe2(ends, O_CLOEXEC), 0);
  const int closed = ::epoll_create1(EPOLL_CLOEXEC);
  ASSERT_GE(closed, 0);
  ::close(closed);
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = 7;
  ASSERT_EQ(::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, ends[0], &event), 0);

  ProcessFiles files;
  files.pid = ::getpid();
  files.fds = {{epoll_fd, "anon_inode:[eventpoll]"},
               {ends[1], "anon_inode:[eventpoll]"},  // reused for a pipe since the listing
               {closed, "anon_inode:[eventpoll]"}};  // closed since the listing
  std::vector<EpollSetView> sets;
  std::vector<Finding> findings;
  EXPECT_FALSE(read_epoll_sets(files, sets, findings)) << "a set gone while read is skipped";
  ASSERT_EQ(sets.size(), 1u);
  EXPECT_EQ(sets[0].epoll_fd, epoll_fd);
  ASSERT_EQ(sets[0].registrations.size(), 1u);
  EXPECT_EQ(sets[0].registrations[0].kernel.data, 7u);
  for (const int fd : {epoll_fd, ends[0], ends[1]}) ::close(fd);
}

}  // namespace
}  // namespace pollscope
