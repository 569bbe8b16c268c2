// The signal holds an OutputFile takes while its temporary file exists: they nest, so that a
// run writing two files (--out and --pcap-out) still ends on a SIGINT that came meanwhile.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <ostream>
#include <sstream>
#include <streambuf>
#include <string>

#include <gtest/gtest.h>

#include "base/failure.hpp"
#include "io/files.hpp"
#include "io/output.hpp"

namespace pollscope {
namespace {

// In a child: two holds, SIGINT raised, then the releases one by one. The child writes a byte
// after the first release (the signal must still be held) and exits 0 if it outlives the last
// one (the signal must be delivered then).
TEST(SignalHolds, ASignalHeldUnderTwoHoldsIsDeliveredAtTheLastRelease) {
  int pipe_ends[2];
  ASSERT_EQ(::pipe(pipe_ends), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(pipe_ends[0]);
    ::signal(SIGINT, SIG_DFL);
    hold_signals();
    hold_signals();
    ::raise(SIGINT);
    release_signals();
    (void)!::write(pipe_ends[1], "1", 1);
    release_signals();
    ::_exit(0);
  }
  ::close(pipe_ends[1]);
  char mark = 0;
  const auto got = ::read(pipe_ends[0], &mark, 1);
  ::close(pipe_ends[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_EQ(got, 1) << "the first release let the signal through";
  ASSERT_TRUE(WIFSIGNALED(status)) << "the signal was swallowed: exit " << WEXITSTATUS(status);
  EXPECT_EQ(WTERMSIG(status), SIGINT);
}

// A release without a hold is ignored, and the handler from before the holds comes back.
TEST(SignalHolds, TheLastReleaseRestoresTheHandlerFromBeforeTheFirstHold) {
  struct sigaction before {};
  ASSERT_EQ(::sigaction(SIGTERM, nullptr, &before), 0);
  hold_signals();
  hold_signals();
  release_signals();
  release_signals();
  release_signals();  // unmatched: ignored
  struct sigaction after {};
  ASSERT_EQ(::sigaction(SIGTERM, nullptr, &after), 0);
  EXPECT_EQ(after.sa_handler, before.sa_handler);
}

// A stream whose device takes nothing, as stdout on a full disk (`> /dev/full`): the buffer
// takes the document, the flush fails.
class FullDevice : public std::streambuf {
 protected:
  int sync() override {
    errno = ENOSPC;
    return -1;
  }
  int_type overflow(int_type) override {
    errno = ENOSPC;
    return traits_type::eof();
  }
  std::streamsize xsputn(const char*, std::streamsize) override {
    errno = ENOSPC;
    return 0;
  }
};

// Every command's document on stdout (run, compare, ab, inspect) goes through OutputFile: one
// that stdout could not take is exit 3, as it is for an --out file, never a silent exit 0.
TEST(OutputFileOnStdout, ADocumentStdoutCannotTakeIsAFailure) {
  FullDevice device;
  std::ostream full(&device);
  try {
    OutputFile::open(std::nullopt).write("{}\n", full);
    FAIL() << "the lost document went unnoticed";
  } catch (const Failure& failure) {
    EXPECT_EQ(failure.code(), kExitEnvironment);
    EXPECT_STREQ(failure.what(), "(stdout): cannot write: No space left on device");
  }
  std::ostream again(&device);
  EXPECT_THROW(write_document("{}\n", std::nullopt, again), Failure);
  std::ostringstream taken;
  OutputFile::open(std::nullopt).write("{}\n", taken);
  EXPECT_EQ(taken.str(), "{}\n");
}

// A pipe (or FIFO) whose reader went away: the write fails with EPIPE, exit 3 and one line,
// where SIGPIPE would have ended the process without a word; no SIGPIPE is left pending.
TEST(OutputFileOnAPipe, AReaderThatWentAwayIsAFailureNotASignal) {
  int ends[2];
  ASSERT_EQ(::pipe(ends), 0);
  ::close(ends[0]);
  const std::string path = "/dev/fd/" + std::to_string(ends[1]);
  std::ostringstream unused;
  try {
    OutputFile::open(path).write(std::string(1 << 16, 'x'), unused);
    ADD_FAILURE() << "the lost document went unnoticed";
  } catch (const Failure& failure) {
    EXPECT_EQ(failure.code(), kExitEnvironment);
    EXPECT_EQ(std::string(failure.what()), path + ": cannot write: Broken pipe");
  }
  ::close(ends[1]);
  sigset_t pending;
  ASSERT_EQ(::sigpending(&pending), 0);
  EXPECT_EQ(sigismember(&pending, SIGPIPE), 0);
}

}  // namespace
}  // namespace pollscope
