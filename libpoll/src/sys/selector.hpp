#pragma once

// The internal contract every backend implements. Poll and Registry talk only to this; each
// backend lives in its own file (epoll_selector.cpp, poll_selector.cpp) and make_selector picks
// one. The registration book (misuse checks, sites, ghost events) sits above this contract, in
// PollState, so that every backend gets it the same way.

#include <array>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "libpoll/backend.hpp"
#include "libpoll/events.hpp"
#include "libpoll/fdinfo.hpp"
#include "libpoll/interest.hpp"
#include "libpoll/registration_info.hpp"
#include "libpoll/result.hpp"
#include "libpoll/token.hpp"
#include "sys/waker_handle.hpp"
#include "thread_tag.hpp"

namespace libpoll::detail {
class ReceivedBytes;
}

namespace libpoll::sys {

// Who performs a registered source's reads and writes. When libpoll does (IoSource and every
// net type), each would-block that ends a drain reaches Selector::rearm; for a foreign fd
// (SourceFd over a descriptor the user reads with their own calls) it cannot. Backends that
// emulate edges over a level-triggered kernel interface need the difference; epoll ignores it.
enum class IoPath { libpoll, foreign };

// What a selector did with reregisters (PollMetrics): changes it made in the kernel (system
// calls on epoll, queue entries on io_uring), changes it found it could skip, and recorded
// changes that failed when they were made, after the call had returned.
struct ChangeCounts {
  std::uint64_t made = 0;
  std::uint64_t skipped = 0;
  std::uint64_t late_failures = 0;
  std::uint64_t received = 0;  // receive completions that brought bytes (io_uring)
};

// A backend that records changes made on the polling thread compares the caller's tag with the
// poller's.
using detail::this_thread_tag;

// A backend's native bits for every interest, in a table indexed by the interest's kinds
// (readable 1, writable 2, priority 4): one load per register and reregister instead of three
// tests. `always` is in every entry.
using InterestBits = std::array<std::uint32_t, 8>;
[[nodiscard]] constexpr InterestBits interest_bits(std::uint32_t always, std::uint32_t readable,
                                                   std::uint32_t writable,
                                                   std::uint32_t priority) noexcept {
  InterestBits bits{};
  for (std::size_t kinds = 0; kinds < bits.size(); ++kinds) {
    bits[kinds] = always | ((kinds & 1) != 0 ? readable : 0) | ((kinds & 2) != 0 ? writable : 0) |
                  ((kinds & 4) != 0 ? priority : 0);
  }
  return bits;
}
[[nodiscard]] inline std::uint32_t bits_of(const InterestBits& bits, Interest interest) noexcept {
  // An Interest is its kinds' bits, in this order (checked below): the index is the interest
  // itself, where testing each kind costs a dozen instructions per registry call.
  static_assert(sizeof(Interest) == 1);
  static_assert(std::bit_cast<std::uint8_t>(Interest::readable) == 1 &&
                std::bit_cast<std::uint8_t>(Interest::writable) == 2 &&
                std::bit_cast<std::uint8_t>(Interest::priority) == 4);
  return bits[std::bit_cast<std::uint8_t>(interest) & 7U];
}

class PendingChanges;

class Selector {
 public:
  Selector() = default;
  Selector(const Selector&) = delete;
  Selector& operator=(const Selector&) = delete;
  virtual ~Selector() = default;

  [[nodiscard]] virtual Backend backend() const noexcept = 0;

  // Clears `events` and fills it with at most events.capacity() edge-triggered events, waiting
  // at most `timeout_ms` (-1: no limit). select() is called by one thread at a time; everything
  // else is thread-safe and may run while select() is blocked.
  virtual Result<void> select(Events& events, int timeout_ms) noexcept = 0;

  // EEXIST when `fd` (the same open file) is registered already, ENOENT from reregister and
  // deregister when it is not, EBADF for a closed fd, EPERM for a file that cannot be watched
  // (a regular file or a directory).
  // `may_defer`: the call comes from a libpoll source, which makes whatever is recorded for it
  // (flush_recorded) before its descriptor closes; a backend may then make the register (and
  // the deregister) with the next select(), as it may a reregister. The book has already ruled
  // out what the kernel would refuse at once for such a source; a recorded one that fails later
  // is counted in change_counts().late_failures.
  virtual Result<void> register_fd(int fd, Token token, Interest interest, IoPath path,
                                   bool may_defer) noexcept = 0;
  // Replaces token and interest. `path`: the call came through a libpoll source (whose
  // descriptor is open while the source lives, so nothing needs checking at the call) or
  // through a foreign descriptor. `drained_at`: the drain_clock() value at which every kind of
  // `interest` was last found drained by libpoll's own I/O, or 0. A backend may record the
  // change and make it with the next select(), and skip it when the kernel holds that state
  // already and the source was drained since the last select() returned; errors it can only
  // see then are counted in change_counts().late_failures. A change made while select() is
  // blocked (from another thread) must reach that select(), as a register does.
  virtual Result<void> reregister_fd(int fd, Token token, Interest interest, IoPath path,
                                     std::uint64_t drained_at) noexcept = 0;
  virtual Result<void> deregister_fd(int fd, bool may_defer) noexcept = 0;

  // The epoll selector's change table, which the book calls straight, without the virtual
  // call: its add, change and remove are what register_fd, reregister_fd and deregister_fd do
  // there. nullptr on the other backends.
  [[nodiscard]] virtual PendingChanges* epoll_changes() noexcept { return nullptr; }

  // A libpoll source is about to close its descriptor: whatever is recorded is made now, so
  // that no recorded change reaches a number reused since.
  virtual void flush_recorded() noexcept {}
  // Set for good once a recorded deregister failed after its call (the descriptor was closed
  // behind its source's back): the kernel may still hold the registration, under a token the
  // book let go. nullptr where nothing is recorded.
  [[nodiscard]] virtual const std::atomic<bool>* removal_lost() const noexcept { return nullptr; }

  // Whether the file that `fd` refers to now is registered here under that fd number. Used on
  // the rare path where the book already has `fd`: false means the book's entry is stale (its
  // file was closed, and the number reused, without a deregister).
  [[nodiscard]] virtual bool holds(int fd) noexcept = 0;

  // The event mask the selector's list shows for a registration of `interest`, leaving out
  // the error and hang-up bits that are always reported: what the audit expects to find.
  [[nodiscard]] virtual std::uint32_t mask_for(Interest interest) const noexcept = 0;

  // The selector's own list of its registrations: for epoll the kernel's (read from
  // /proc/self/fdinfo), for poll(2) its table, with each file's identity when it was registered.
  [[nodiscard]] virtual Result<std::vector<KernelRegistration>> registrations() const = 0;

  // The file `fd` was registered for, where the selector took its identity at registration
  // (poll(2) and io_uring, which need it to tell a reused number from the file they watch).
  // epoll leaves the identity to the kernel, which lists it while it holds the registration
  // (registrations()), so that a register costs one system call: nullopt.
  [[nodiscard]] virtual std::optional<FileIdentity> file_of(int fd) const noexcept {
    (void)fd;
    return std::nullopt;
  }

  // Whether rearm matters: then each libpoll source registered here keeps a link to the
  // selector (detail::EdgeLink) and reports its would-blocks and transfers through it.
  [[nodiscard]] virtual bool emulates_edges() const noexcept { return false; }

  // libpoll's own I/O on `fd` just returned would-block for `kind` (readable or writable): the
  // source is drained. Backends that emulate edges (poll) re-arm it; epoll needs nothing.
  virtual void rearm(int fd, Interest kind) noexcept {
    (void)fd;
    (void)kind;
  }

  // The user's own I/O on a foreign `fd` returned would-block for `kind`, and the user says so
  // (Registry::drained). Edge-emulating backends re-arm it, and from then on treat the
  // registration as libpoll's own; epoll and io_uring date the drain, for a following
  // reregister to an unchanged interest (reregister_fd).
  virtual void rearm_foreign(int fd, Interest kind) noexcept {
    (void)fd;
    (void)kind;
  }

  // How many select() calls have returned, starting at 1, shared with libpoll sources
  // (detail::EdgeLink) so that they can date their drains; nullptr where drains do not matter.
  [[nodiscard]] virtual std::shared_ptr<const std::atomic<std::uint64_t>> drain_clock()
      const noexcept {
    return nullptr;
  }
  [[nodiscard]] virtual ChangeCounts change_counts() const noexcept { return {}; }

  // Whether this selector reads byte streams ahead of their user (PollOptions::receive_ahead).
  [[nodiscard]] virtual bool receives_ahead() const noexcept { return false; }
  // `fd`, just registered by a libpoll byte stream, is read ahead into `store` (the stream's,
  // which may hold bytes from an earlier registration: the stream is then reported readable).
  virtual void receive_ahead(int fd, std::shared_ptr<detail::ReceivedBytes> store) noexcept {
    (void)fd;
    (void)store;
  }

  // The selector's own descriptor (the epoll fd), or -1 when it has none.
  [[nodiscard]] virtual int native_handle() const noexcept = 0;

  // A wake-up handle of the kind this selector can watch; the caller registers its fd.
  virtual Result<std::unique_ptr<WakerHandle>> make_waker() noexcept = 0;
};

// `Backend::automatic` is epoll unless the LIBPOLL_BACKEND environment variable names another.
// `single_thread`: PollOptions::single_thread (io_uring binds its ring to the polling thread);
// `receive_ahead`: PollOptions::receive_ahead (io_uring reads byte streams ahead).
[[nodiscard]] Result<std::shared_ptr<Selector>> make_selector(Backend backend,
                                                              bool single_thread = false,
                                                              bool receive_ahead = false) noexcept;

}  // namespace libpoll::sys
