// Choosing a backend: by name, and through LIBPOLL_BACKEND for every `automatic` Poll.

#include "libpoll/backend.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "libpoll/poll.hpp"

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
  for (Backend backend : {Backend::automatic, Backend::epoll, Backend::poll}) {
    EXPECT_EQ(parse_backend(to_string(backend)), backend);
  }
  EXPECT_EQ(to_string(Backend::poll), "poll");
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
  for (Backend backend : {Backend::epoll, Backend::poll}) {
    auto created = Poll::create(backend);
    ASSERT_TRUE(created) << to_string(backend) << ": " << created.error().message();
    EXPECT_EQ(created->backend(), backend);
  }
}

}  // namespace
}  // namespace libpoll
