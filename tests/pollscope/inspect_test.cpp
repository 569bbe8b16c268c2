// `pollscope inspect`'s work function, called without argv: it checks its request itself, as the
// command line does, so that a caller that skips the command line cannot hand it an interval
// sleep_for cannot take.

#include "inspect/inspect.hpp"

#include <unistd.h>

#include <cmath>
#include <limits>
#include <sstream>

#include <gtest/gtest.h>

#include "base/exit_code.hpp"

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

}  // namespace
}  // namespace pollscope
