// What an exception that stops a command becomes: its exit code and its one line.

#include "base/failure.hpp"

#include <gtest/gtest.h>

#include <new>
#include <stdexcept>

namespace pollscope {
namespace {

TEST(ReportFailure, OutOfMemoryIsTheMachinesNotAnInternalError) {
  const auto report = report_failure(std::make_exception_ptr(std::bad_alloc()));
  EXPECT_EQ(report.code, kExitEnvironment);
  EXPECT_TRUE(report.line.starts_with("pollscope: out of memory: ")) << report.line;
  EXPECT_EQ(report.line.find("internal error"), std::string::npos) << report.line;
}

TEST(ReportFailure, AnyOtherExceptionIsAnInternalErrorInOneLine) {
  const auto report = report_failure(std::make_exception_ptr(std::logic_error("two\nlines")));
  EXPECT_EQ(report.code, kExitEnvironment);
  EXPECT_TRUE(report.line.starts_with("pollscope: internal error: two")) << report.line;
  EXPECT_EQ(report.line.find('\n'), std::string::npos) << report.line;
}

}  // namespace
}  // namespace pollscope
