// The factory lives apart from the Selector contract, so that the contract does not depend on
// the backends that implement it.
#include "sys/selector.hpp"

#include <cstdlib>

#include "libpoll/error.hpp"

#include "sys/epoll_selector.hpp"
#include "sys/poll_selector.hpp"
#if LIBPOLL_HAVE_IO_URING
#include "sys/io_uring_selector.hpp"
#endif

namespace libpoll::sys {

namespace {

template <typename Concrete>
Result<std::shared_ptr<Selector>> make(auto... options) noexcept {
  auto selector = Concrete::create(options...);
  if (!selector) return Unexpected(selector.error());
  return std::shared_ptr<Selector>(std::move(*selector));
}

// LIBPOLL_BACKEND moves every `automatic` Poll of the process onto the named backend; an unknown
// name is an error rather than a silent fallback, so that a typo cannot fake a test run.
Result<Backend> resolve(Backend backend) noexcept {
  if (backend != Backend::automatic) return backend;
  const char* forced = std::getenv("LIBPOLL_BACKEND");
  if (forced == nullptr || *forced == '\0') return Backend::epoll;
  auto named = parse_backend(forced);
  if (!named) return Unexpected(std::errc::invalid_argument);
  return *named == Backend::automatic ? Backend::epoll : *named;
}

}  // namespace

Result<std::shared_ptr<Selector>> make_selector(Backend backend, bool single_thread,
                                                bool receive_ahead) noexcept {
  auto resolved = resolve(backend);
  if (!resolved) return Unexpected(resolved.error());
  switch (*resolved) {
    case Backend::automatic:
    case Backend::epoll:
      (void)single_thread;
      (void)receive_ahead;
      return make<EpollSelector>();
    case Backend::poll:
      return make<PollSelector>();
    case Backend::io_uring:
#if LIBPOLL_HAVE_IO_URING
      return make<IoUringSelector>(single_thread, receive_ahead);
#else
      return Unexpected(Errc::backend_unavailable);
#endif
  }
  return Unexpected(std::errc::function_not_supported);
}

}  // namespace libpoll::sys
