// The process's WriterBias in a forked child: the child's one thread may not be the owner, and an
// owner that was inside a plain section in the parent is gone, so the child starts shared. In the
// single-threaded suite, where this thread makes every write and so holds the bias.

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "writer_bias.hpp"

namespace libpoll::detail {
namespace {

TEST(WriterBiasForkTest, AForkedChildStartsShared) {
  WriterBias& bias = process_writer_bias();
  if (!bias.begin()) GTEST_SKIP() << "another thread of this suite wrote first";
  bias.end();
  ASSERT_TRUE(bias.held());
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // 0: shared, as it must be; 1: still held; 2: a plain section offered.
    const bool held = bias.held();
    const bool plain = bias.begin();
    ::_exit(held ? 1 : plain ? 2 : 0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_TRUE(bias.held()) << "the parent keeps its bias";
}

}  // namespace
}  // namespace libpoll::detail
