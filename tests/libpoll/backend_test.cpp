// Choosing a backend: by name, and through LIBPOLL_BACKEND for every `automatic` Poll.

#include "libpoll/backend.hpp"

#include <gtest/gtest.h>

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <optional>
#include <string>

#include "libpoll/error.hpp"
#include "libpoll/poll.hpp"
#include "support/poll_fixture.hpp"

namespace libpoll {
namespace {

// Sets LIBPOLL_BACKEND for one test and restores what was there (ctest runs each test in its own
// process, but a developer may run the binary whole).
class ScopedBackendVariable {
 public:
  explicit ScopedBackendVariable(const char* value) {
    if (const char* old = std::getenv("LIBPOLL_BACKEND")) saved_ = old;
    if (value == nullptr) {
      ::unsetenv("LIBPOLL_BACKEND");
    } else {
      ::setenv("LIBPOLL_BACKEND", value, 1);
    }
  }
  ~ScopedBackendVariable() {
    if (saved_) {
      ::setenv("LIBPOLL_BACKEND", saved_->c_str(), 1);
    } else {
      ::unsetenv("LIBPOLL_BACKEND");
    }
  }
  ScopedBackendVariable(const ScopedBackendVariable&) = delete;
  ScopedBackendVariable& operator=(const ScopedBackendVariable&) = delete;

 private:
  std::optional<std::string> saved_;
};

TEST(BackendTest, NamesRoundTripThroughParse) {
  for (Backend backend : {Backend::automatic, Backend::epoll, Backend::poll, Backend::io_uring}) {
    EXPECT_EQ(parse_backend(to_string(backend)), backend);
  }
  EXPECT_EQ(to_string(Backend::poll), "poll");
  EXPECT_EQ(to_string(Backend::io_uring), "io_uring");
  EXPECT_EQ(parse_backend("kqueue"), std::nullopt);
  EXPECT_EQ(parse_backend(""), std::nullopt);
  EXPECT_EQ(parse_backend("Poll"), std::nullopt);
}

TEST(BackendTest, AutomaticIsEpollWithoutTheVariable) {
  ScopedBackendVariable unset(nullptr);
  EXPECT_EQ(Poll::create().value().backend(), Backend::epoll);
}

TEST(BackendTest, VariableMovesAutomaticPollsOntoTheNamedBackend) {
  ScopedBackendVariable forced("poll");
  EXPECT_EQ(Poll::create().value().backend(), Backend::poll);
  EXPECT_EQ(Poll::create(Backend::automatic).value().backend(), Backend::poll);
  // An explicit choice is not overridden.
  EXPECT_EQ(Poll::create(Backend::epoll).value().backend(), Backend::epoll);
}

TEST(BackendTest, UnknownNameInTheVariableIsAnErrorNotAFallback) {
  ScopedBackendVariable forced("kqueue");
  auto created = Poll::create();
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error(), std::errc::invalid_argument);
}

TEST(BackendTest, EachBackendReportsItself) {
  for (Backend backend : testing::test_backends()) {
    auto created = Poll::create(backend);
    ASSERT_TRUE(created) << to_string(backend) << ": " << created.error().message();
    EXPECT_EQ(created->backend(), backend);
  }
}

TEST(BackendTest, VariableCanNameIoUring) {
  if (!testing::io_uring_available()) GTEST_SKIP() << "no io_uring backend in this build or kernel";
  ScopedBackendVariable forced("io_uring");
  EXPECT_EQ(Poll::create().value().backend(), Backend::io_uring);
}

// Forbids io_uring_setup to this process, as a container runtime's seccomp profile does.
bool forbid_io_uring_setup() {
  sock_filter rules[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog program{.len = static_cast<unsigned short>(std::size(rules)), .filter = rules};
  return ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &program) == 0;
}

// Where the kernel refuses io_uring, asking for it is a clear error, and `automatic` (even
// forced onto io_uring by the variable) never falls back silently. Checked in a child process,
// which a seccomp filter then binds.
TEST(BackendTest, IoUringRefusedByTheKernelIsAClearErrorNeverAFallback) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (!forbid_io_uring_setup()) ::_exit(2);
    auto refused = Poll::create(Backend::io_uring);
    if (refused || refused.error() != Errc::backend_unavailable ||
        refused.error() != std::errc::function_not_supported) {
      ::_exit(3);
    }
    if (refused.error().message().find("unavailable") == std::string::npos) ::_exit(4);
    ::unsetenv("LIBPOLL_BACKEND");
    if (Poll::create().value().backend() != Backend::epoll) ::_exit(5);
    ::setenv("LIBPOLL_BACKEND", "io_uring", 1);
    if (Poll::create()) ::_exit(6);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "2: no seccomp here; 3: not backend_unavailable; 4: no "
                                       "clear message; 5: automatic changed; 6: a fallback";
}

}  // namespace
}  // namespace libpoll
