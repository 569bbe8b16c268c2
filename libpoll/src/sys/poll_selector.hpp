#pragma once

// The portable backend: poll(2), with edge-triggered semantics emulated in user space.
//
// poll(2) is level-triggered. Each registration keeps the kinds of its interest that are still
// *armed*; only armed kinds are polled, and a kind is disarmed when it is reported, so that a
// source that stays ready is reported once, as with EPOLLET. A disarmed kind is re-armed
// - when libpoll's own I/O on the fd makes progress or returns would-block (rearm, through the
//   source's own link to this selector, detail::EdgeLink, set when it registered here): the user
//   acted on the event, so whatever readiness is there now is new to them (a read that stops at
//   a short count, as many loops do, drained the source);
// - on reregister, which replaces token and interest and re-arms everything (as EPOLL_CTL_MOD);
// - by the probe that starts every select(), a zero-timeout poll(2) of the disarmed kinds, when
//   it finds the kind no longer ready (drained by reads libpoll did not see), or readable with
//   other contents than when it was reported (FIONREAD bytes, and a socket's receive memory:
//   new data, which epoll reports on each arrival), or a hang-up or error that is new.
// A reported hang-up or error (POLLHUP, POLLERR) disarms every kind while it lasts, or poll(2)
// would report it on every call. A descriptor closed without deregister (POLLNVAL) is never
// reported and is left out of polling until it is deregistered or reregistered, as epoll drops
// a closed file. Waker pipes (make_waker) stay armed and are drained when reported, so that wakes
// coalesce and are not sticky.
//
// Foreign descriptors (SourceFd, IoPath::foreign) are different: libpoll never sees their reads,
// so nothing can tell that the user drained one and that new readiness (an eventfd written
// again, a periodic timerfd's next expiry) is an edge; the probe sees "still ready, same
// contents" and would hold the event forever (mio #1809). So a foreign fd's kinds are re-armed
// at every select(): one that stays ready is reported once per poll call (level-triggered), and
// no edge is ever lost. Hang-ups and errors stay edge-tracked, so that a dead foreign fd left
// registered cannot spin. Once the user says that their own I/O on it returned would-block
// (Registry::drained, through rearm_foreign), the registration is treated as libpoll's own
// sources are: edge-emulated, re-armed by each such call and by the probe.

// Threads: select() holds the table lock only while it prepares and reads back a poll; it waits
// in poll(2) on a private copy of the descriptor set plus an internal wake pipe, which every
// change made meanwhile (register, reregister, deregister, a re-arm) writes to. It then polls
// again for whatever remains of the original timeout.
//
// Cost: every select() passes every armed descriptor to the kernel and probes every disarmed
// one, so it grows with the number of registrations.

#include <poll.h>
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "futex_mutex.hpp"
#include "sys/pipe_waker.hpp"
#include "sys/selector.hpp"

namespace libpoll::sys {

class PollSelector final : public Selector {
 public:
  static Result<std::unique_ptr<PollSelector>> create() noexcept;
  ~PollSelector() override;

  [[nodiscard]] Backend backend() const noexcept override { return Backend::poll; }
  [[nodiscard]] bool emulates_edges() const noexcept override { return true; }
  Result<void> select(Events& events, int timeout_ms) noexcept override;
  Result<void> register_fd(int fd, Token token, Interest interest, IoPath path,
                           bool may_defer) noexcept override;
  Result<void> reregister_fd(int fd, Token token, Interest interest, IoPath path,
                             std::uint64_t drained_at) noexcept override;
  Result<void> deregister_fd(int fd, bool may_defer) noexcept override;
  [[nodiscard]] bool holds(int fd) noexcept override;
  [[nodiscard]] Result<std::vector<KernelRegistration>> registrations() const override;
  [[nodiscard]] std::optional<FileIdentity> file_of(int fd) const noexcept override;
  [[nodiscard]] std::uint32_t mask_for(Interest interest) const noexcept override;
  void rearm(int fd, Interest kind) noexcept override;
  void rearm_foreign(int fd, Interest kind) noexcept override;
  [[nodiscard]] int native_handle() const noexcept override { return -1; }
  Result<std::unique_ptr<WakerHandle>> make_waker() noexcept override;

 private:
  // Readiness masks are poll(2) bits (equal to the readiness:: bits on Linux).
  using Mask = std::uint32_t;

  // The file a descriptor refers to, from fstat.
  struct Identity {
    dev_t device = 0;
    ino_t inode = 0;
    friend bool operator==(const Identity&, const Identity&) = default;
  };

  struct Entry {
    Token token;
    Mask interest = 0;     // of the registration
    Mask armed = 0;        // the part of `interest` that is polled and may be reported
    Mask faults_seen = 0;  // POLLHUP/POLLERR when last looked at: only a new one is an edge
    std::uint64_t readable_state = 0;  // bytes and memory when readable was last reported
    std::uint64_t generation = 0;      // tells a result from a replaced registration
    Identity identity;
    int access_mode = 0;   // O_ACCMODE bits: the two ends of a pipe share an inode
    bool socket = false;   // has SO_MEMINFO
    bool foreign = false;  // IoPath::foreign: re-armed at every select() until reports_drains
    bool reports_drains = false;  // a foreign fd whose user calls Registry::drained
    bool waker = false;           // a pipe from make_waker: drained on report, never disarmed
    bool closed = false;          // POLLNVAL seen: closed without deregister, not polled
  };

  // Which entry a pollfd of the blocking poll was copied from.
  struct Slot {
    int fd;
    std::uint64_t generation;
  };

  explicit PollSelector(std::unique_ptr<PipeWaker> wake) noexcept : wake_(std::move(wake)) {}

  // The steps of select(), all with mutex_ held.
  Result<void> probe_disarmed() noexcept;
  void prepare_poll() noexcept;
  std::size_t collect(Events& events) noexcept;
  // Success when `fd` still names the file `entry` was registered for; the error epoll would
  // give otherwise.
  static Result<void> check_still_there(int fd, const Entry& entry) noexcept;
  // Interrupts a select() blocked in poll(2), so that it sees a change of the table.
  void wake_if_blocked() noexcept;

  mutable detail::FutexMutex mutex_;  // as the other selectors': an atomic instruction each way
  std::map<int, Entry> table_;        // ordered by fd, so that scans can resume where one stopped
  std::map<int, Identity> unregistered_wakers_;  // made by make_waker, not registered yet
  std::uint64_t next_generation_ = 0;
  int resume_after_ = -1;  // the fd of the last event delivered: the next scan starts after it
  bool blocked_ = false;   // select() is in poll(2) without the lock

  // Used by select() alone (one thread at a time), kept to reuse their storage.
  std::vector<pollfd> probe_set_;
  std::vector<pollfd> poll_set_;  // [0] is wake_, then the armed entries in fd order
  std::vector<Slot> slots_;       // slots_[i] is where poll_set_[i + 1] came from

  std::unique_ptr<PipeWaker> wake_;  // internal: interrupts a blocked select(); not registered
};

}  // namespace libpoll::sys
