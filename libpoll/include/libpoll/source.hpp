#pragma once

/// \file
/// `Source`: anything that can be registered with a `Registry`.

#include "libpoll/interest.hpp"
#include "libpoll/result.hpp"
#include "libpoll/token.hpp"

namespace libpoll {

class Registry;

/// An event source: an object backed by a system handle (a socket, a pipe, a raw fd) that a
/// `Registry` can watch.
///
/// Users never call these functions: they call `Registry::register_source` and friends, which
/// forward here. That is why the three functions are private; `Registry` is the only caller.
///
/// ## Implementing Source
/// A type that wraps another source delegates to it through the registry it was given:
///
/// ```cpp
/// class Connection final : public libpoll::Source {
///   libpoll::net::TcpStream stream_;
///
///   libpoll::Result<void> register_source(const libpoll::Registry& registry, libpoll::Token token,
///                                         libpoll::Interest interest) noexcept override {
///     return registry.register_source(stream_, token, interest);
///   }
///   // reregister_source and deregister_source likewise
/// };
/// ```
///
/// Types that own a raw file descriptor delegate to `SourceFd`.
///
/// ## Deregister before you close
/// A source must be deregistered before it is destroyed. The kernel watches the open file
/// description, not the descriptor number: when the fd has been duplicated (`dup`, `fork`,
/// `SCM_RIGHTS`) closing one copy leaves the registration alive, and it keeps delivering events
/// under the old token. libpoll's own sources do not deregister themselves when destroyed,
/// exactly as in mio.
class Source {
 protected:
  Source() = default;
  Source(const Source&) = default;
  Source& operator=(const Source&) = default;
  ~Source() = default;

 private:
  friend class Registry;

  virtual Result<void> register_source(const Registry& registry, Token token,
                                       Interest interest) noexcept = 0;
  virtual Result<void> reregister_source(const Registry& registry, Token token,
                                         Interest interest) noexcept = 0;
  virtual Result<void> deregister_source(const Registry& registry) noexcept = 0;
};

}  // namespace libpoll
