#pragma once

// The io_uring backend: readiness through multishot poll requests (IORING_POLL_ADD_MULTI).
//
// Each registration is one multishot poll request, edge-triggered as the kernel makes it by
// default: it posts a completion when armed on a ready file, then one per wake-up of the file
// that matches its mask, as EPOLLET reports one event per wake-up. Completions for one source
// that pile up between two select() calls are merged into one event, as epoll merges them.
// Every completion posted is reaped at each select(), even when `Events` is full: the readiness
// that does not fit is kept in the entry (`owed`) and reported first by the next select(), merged
// with whatever comes meanwhile. Left in the ring instead, a source's older completions would
// come back as new events after its loop had drained it, once for every wake-up.
//
// Registration changes are recorded in `changes_` and become submission queue entries at the
// next select(), which submits them with its wait in one io_uring_enter: a reregister is a
// removal of the old request and a new request (which reports the source again if it is still
// ready, as EPOLL_CTL_MOD does); a register or reregister undone before the next select()
// costs no system call at all. Every request carries (generation << 32 | fd) as its user data,
// so that completions of a replaced or removed request are recognised and dropped; removals
// post a completion only when they fail (IOSQE_CQE_SKIP_SUCCESS).
//
// A deregister cancels the request at once (IORING_REGISTER_SYNC_CANCEL), because a poll
// request holds a reference to its file: the kernel keeps a registered file open, even after
// its last descriptor is closed, until the request ends. A file closed without deregister thus
// stays open (a peer sees no hang-up) until deregister, a new registration under its number, or
// the end of the Poll. epoll drops such a registration; poll(2) stops watching the number.
//
// The kernel shows no file of a poll request (its fdinfo lists requests by opcode), so the list
// the audit reads is this selector's table, with each file's identity taken at registration,
// as on poll(2). Closed-file and number-reuse checks use that identity too: select() makes a
// recorded request only while its number still names the registered file, since a request on a
// closed number fails and one on a reused number would watch another file under this token.
// A registration whose request was dropped so (or that never got one) is listed with an empty
// mask: the kernel watches nothing for it, and the audit asks whether its file is still open.
//
// Bound rings (PollOptions::single_thread, Linux 6.1; LIBPOLL_IO_URING_SINGLE_ISSUER=1 sets it
// for every io_uring Poll): a Poll starts with a shared ring, and its first select() moves it to a
// ring that thread makes (IORING_SETUP_SINGLE_ISSUER: only that thread may enter it), whose
// completion work the kernel runs only in that thread's wait (IORING_SETUP_DEFER_TASKRUN), all
// at once, rather than at each wake-up of a watched file: about a sixth off an event's cost here
// (scripts/bench.sh, peers). The thread that polls makes the ring because the kernel's teardown
// of a ring signals every thread that made or entered it (an epoll_wait of another Poll in it
// returns EINTR). A deregister from another thread cannot cancel: it records the removal and
// wakes select(), and the file stays open until select() has made it. A select() from another
// thread moves the registrations to a ring bound there (each request made again reports its
// source if still ready) and closes the old one, which may end one interruptible wait of the old
// thread, if it lives, with EINTR. So bound rings suit a Poll polled by one thread all its life.
// A bound ring destroyed on its thread is cancelled there and kept idle for that thread's next
// single-thread Poll; destroyed on another, it is closed.
//
// Receive-ahead Polls (PollOptions::receive_ahead, LIBPOLL_IO_URING_RECEIVE_AHEAD=1): the
// readable part of a libpoll byte stream's registration is a multishot recv request that takes
// buffers from a ring of them this selector provides (IORING_OP_RECV, IOSQE_BUFFER_SELECT), and
// its poll request keeps the rest of the interest. Each completion's bytes are copied into the
// stream's store (detail::ReceivedBytes), its buffer is handed back at once, and the stream is
// reported readable; its reads take the bytes from the store. A recv request's user data has
// kReceiveTag in its low word. Its bytes must reach the store before anything else can read the
// stream, so every path that ends one (a deregister, a reregister without readable, a register
// over a stale entry, the selector's end) cancels it synchronously and reaps at once, the
// readiness reaped for other registrations being owed to the next select(); a cancel that meets
// select() before the kernel took the request first waits for the kernel to take it. A stream
// whose store passes ReceivedBytes::kHighWater is paused: its recv request is cancelled and its
// poll request asks for POLLIN again, until select() finds the store read empty. A stream whose
// recv the kernel refuses (EINVAL: a kernel before 6.0) is read by readiness for good. Rings
// are never bound to a thread here: the cancels come from whichever thread deregisters.
//
// Threads: only select() submits, so that every request belongs to the polling thread (the
// kernel runs a request's completion work on the thread that submitted it). A change made while
// select() is blocked is recorded and wakes it through an internal eventfd; select() submits it
// and waits again for what remains of the timeout. When the thread that submitted a request
// exits, the kernel ends the request at its next wake-up (ECANCELED); select() makes it again,
// so a Poll can move to another polling thread. A deregister that meets select() between
// preparing a request and submitting it finds nothing to cancel, and records a removal to
// follow it. A forked child shares the ring, whose queues are mappings shared with the parent
// while their indexes are each process's own copies: a child that submitted or reaped would
// corrupt the parent's queues, and a cancel would end the parent's requests. So the child's copy
// of the selector only lets go: its select(), register_fd and reregister_fd fail with
// operation_not_supported, its deregister_fd forgets the entry without touching the ring.

#include <liburing.h>
#include <poll.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "futex_mutex.hpp"
#include "ghost_gate.hpp"
#include "received_bytes.hpp"
#include "sys/eventfd_waker.hpp"
#include "sys/selector.hpp"

namespace libpoll::sys {

class IoUringSelector final : public Selector {
 public:
  // Fails with Errc::backend_unavailable where the kernel has no usable io_uring (too old,
  // disabled by sysctl kernel.io_uring_disabled, or refused by a seccomp filter).
  // `single_thread`: PollOptions::single_thread, a single-issuer ring where the kernel has one.
  // `receive_ahead`: PollOptions::receive_ahead (the ring then stays shared).
  static Result<std::unique_ptr<IoUringSelector>> create(bool single_thread = false,
                                                         bool receive_ahead = false) noexcept;
  ~IoUringSelector() override;

  [[nodiscard]] Backend backend() const noexcept override { return Backend::io_uring; }
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
  void rearm_foreign(int fd, Interest kind) noexcept override;
  [[nodiscard]] std::shared_ptr<const std::atomic<std::uint64_t>> drain_clock()
      const noexcept override {
    return clock_;
  }
  [[nodiscard]] ChangeCounts change_counts() const noexcept override;
  [[nodiscard]] int native_handle() const noexcept override { return ring_.ring_fd; }
  [[nodiscard]] bool receives_ahead() const noexcept override { return buffers_ != nullptr; }
  void receive_ahead(int fd, std::shared_ptr<detail::ReceivedBytes> store) noexcept override;
  Result<std::unique_ptr<WakerHandle>> make_waker() noexcept override;

 private:
  using Mask = std::uint32_t;  // poll(2) bits

  struct Identity {
    dev_t device = 0;
    ino_t inode = 0;
    friend bool operator==(const Identity&, const Identity&) = default;
  };

  // What the readable part of a receive-ahead registration is: a recv request (active); the
  // poll request, until the store is read empty (paused) or for good (refused: the kernel has
  // no multishot recv); nothing more, the stream having ended (ended: end of stream or error).
  enum class Receive : std::uint8_t { active, paused, refused, ended };

  struct Entry {
    Token token;
    Mask interest = 0;
    std::uint32_t generation = 0;  // 0: nothing registered under this number
    // The user data of this registration's request in the kernel, 0 while it has none (not
    // submitted yet, or ended). Behind `generation` until a recorded update is submitted.
    std::uint64_t kernel_data = 0;
    // The request the kernel has (or will have, once submitted) for this number, even when a
    // reregister has replaced it and its removal is recorded, and its mask: a reregister back to
    // that mask keeps it and drops both recorded changes. 0 once its removal is submitted or it
    // ended.
    std::uint64_t held_data = 0;
    Mask held_mask = 0;
    std::uint64_t read_drained = 0;  // a foreign descriptor's drains (Registry::drained)
    std::uint64_t write_drained = 0;
    Identity identity;
    int access_mode = 0;      // O_ACCMODE bits: the two ends of a pipe share an inode
    std::uint32_t batch = 0;  // the select() that last reported it...
    std::uint32_t slot = 0;   // ...at this index of its events
    // Readiness reaped while `Events` was full, for the request of `owed_generation`; `queued`:
    // the number is in owed_ (set again by the registration that replaced a queued one).
    Mask owed = 0;
    std::uint32_t owed_generation = 0;
    bool queued = false;
    // Receive-ahead: the stream's store (nullptr: not read ahead), the user data of its recv
    // request in the kernel (0: none), and what its readable part is.
    std::shared_ptr<detail::ReceivedBytes> received{};
    std::uint64_t receive_data = 0;
    Receive receive = Receive::active;
  };

  // A change waiting for the next select(): a new request for `data` (fd, generation), or the
  // removal of the request with user data `target`.
  // `receive`: a recv request for `data` (receive-ahead); `cancel`: the cancel of the recv
  // request with user data `target`, from within a reap.
  enum class Kind : std::uint8_t { add, remove, receive, cancel };
  struct Change {
    Kind kind;
    std::uint64_t data;
    std::uint64_t target = 0;
  };

  // A selector over `ring`, new or kept from a destroyed selector; closes it on failure.
  // `single_thread`: PollOptions::single_thread, or LIBPOLL_IO_URING_SINGLE_ISSUER=1.
  static Result<std::unique_ptr<IoUringSelector>> adopt(const io_uring& ring, bool sync_cancel,
                                                        bool single_thread,
                                                        bool receive_ahead = false) noexcept;
  IoUringSelector(const io_uring& ring, std::unique_ptr<EventfdWaker> wake, bool sync_cancel)
      : ring_(ring),
        wake_(std::move(wake)),
        sync_cancel_(sync_cancel),
        skip_success_((ring.features & IORING_FEAT_CQE_SKIP) != 0 ? IOSQE_CQE_SKIP_SUCCESS : 0) {}

  // A registration's generation: process-wide, never 0.
  static std::uint32_t next_generation() noexcept;
  static std::uint64_t user_data(int fd, std::uint32_t generation) noexcept {
    return std::uint64_t{generation} << 32 | static_cast<std::uint32_t>(fd);
  }
  // The low word is the number, but for the bit that marks a recv request (kReceiveTag).
  static int fd_of(std::uint64_t data) noexcept { return static_cast<int>(data & 0x7fffffffU); }
  // io_poll_wake filters wake-ups without EPOLLPRI (`~IO_ASYNC_POLL_COMMON`): a socket's urgent
  // data reaches a POLLPRI request through POLLRDBAND, also in its key (sock_def_readable).
  static Mask request_mask(Mask interest) noexcept {
    return (interest & POLLPRI) != 0 ? interest | POLLRDBAND : interest;
  }
  // Whether `entry`'s readable part is a recv request, with `interest` (its own by default).
  // Not with priority: a read ahead would read past urgent data, which ends it (the kernel
  // clears it once the stream is read beyond its mark) before its event could be seen.
  static bool reads_ahead(const Entry& entry, Mask interest) noexcept {
    return entry.received != nullptr && entry.receive == Receive::active &&
           (interest & (POLLIN | POLLPRI)) == POLLIN;
  }
  static bool reads_ahead(const Entry& entry) noexcept {
    return reads_ahead(entry, entry.interest);
  }
  // The mask of `entry`'s poll request for `interest`: without what its recv request reports.
  static Mask poll_request_mask(const Entry& entry, Mask interest) noexcept {
    return request_mask(reads_ahead(entry, interest) ? interest & ~kReceived : interest);
  }
  static constexpr Mask kReceived = POLLIN | POLLRDHUP;
  static constexpr Mask kFaults = POLLERR | POLLHUP;  // reported whatever the interest
  static constexpr std::uint64_t kReceiveTag = std::uint64_t{1} << 31;
  static constexpr std::uint16_t kReceiveGroup = 0;  // the buffer group of the recv requests

  // A completion carries the wake-up's key, which names EPOLLPRI at each socket arrival, not the
  // file's state: POLLPRI is asked of the file, as epoll does.
  static Mask confirm_priority(int fd, Mask bits) noexcept {
    if ((bits & POLLPRI) == 0) return bits;
    pollfd probe{.fd = fd, .events = POLLPRI, .revents = 0};
    if (::poll(&probe, 1, 0) == 1 && (probe.revents & POLLPRI) != 0) return bits;
    return bits & ~static_cast<Mask>(POLLPRI);
  }

  // Whether this is a forked child's copy, which must not use the parent's ring.
  [[nodiscard]] bool in_forked_child() const noexcept {
    return fork_hooked_ ? detail::generation() != generation_ : ::getpid() != creator_;
  }

  // All with mutex_ held.
  // Inline: reap() asks it for every completion.
  Entry* live(int fd) noexcept {
    if (fd < 0 || static_cast<std::size_t>(fd) >= entries_.size()) return nullptr;
    Entry& entry = entries_[static_cast<std::size_t>(fd)];
    return entry.generation != 0 ? &entry : nullptr;
  }
  // Turns the recorded changes into submission entries; false when some are left for want of
  // room in the queue.
  [[nodiscard]] bool fill_queue() noexcept;
  // Whether a recorded change still has work to do (false: undone meanwhile, or a request whose
  // number lost its file, counted as a late failure).
  [[nodiscard]] bool still_wanted(const Change& change) noexcept;
  // Whether `fd` names the file `entry` was registered for (a pipe's end by its access mode).
  [[nodiscard]] static bool names_registered_file(int fd, const Entry& entry) noexcept;
  // One wanted change into the submission entry `entry`.
  void prepare(const Change& change, io_uring_sqe* entry) noexcept;
  // Keeps the request the kernel has for `entry` when it is what a reregister asks for and the
  // source was drained since the last reap (then nothing can be lost); false otherwise.
  bool keep_held(Entry& entry, Token token, Mask mask, std::uint64_t drained_at) noexcept;
  // Ends the registration's request: at once where the kernel can, else with the next poll.
  void remove_request(const Entry& entry, int fd) noexcept;
  // Makes room for `more` changes (may throw std::bad_alloc).
  void reserve_changes(std::size_t more);
  // Appends to changes_; false when memory ran out.
  [[nodiscard]] bool record(Change change) noexcept;
  void wake_if_blocked() noexcept;
  // select() of a single-thread Poll on a thread its ring is not bound to: moves the
  // registrations to a ring bound to this thread.
  Result<void> take_ring_here() noexcept;
  // io_uring_cq_ready, for select() without the lock: a deregister of a stream read ahead
  // reaps (under the lock) meanwhile, so the queue's head is read as the atomic it then is.
  [[nodiscard]] unsigned completions_ready() const noexcept {
    return std::atomic_ref<unsigned>(*ring_.cq.ktail).load(std::memory_order_acquire) -
           std::atomic_ref<unsigned>(*ring_.cq.khead).load(std::memory_order_relaxed);
  }
  // select() alone, without the lock: only it touches the ring's submission queue.
  unsigned publish_queue() noexcept;
  Result<void> submit_and_wait(int timeout_ms) noexcept;
  // Appends to `events` what the completion queue holds; `completions`: how many it held.
  std::size_t reap(Events& events, unsigned& completions) noexcept;
  // A ring bound to its thread (IORING_SETUP_DEFER_TASKRUN) posts completions from the work the
  // kernel runs in that thread's io_uring_enter, since Linux 6.13 at most kDeferredWorkPass items
  // a pass, the rest left for the next enter. After a reap that found a pass's worth, enters
  // again without waiting and reaps, while `events` has room: one poll then reports what is
  // ready, as epoll and a shared ring do, rather than a pass's worth a poll. Returns the events.
  std::size_t reap_deferred(Events& events, unsigned completions) noexcept;
  static constexpr unsigned kDeferredWorkPass = 20;  // the kernel's IO_LOCAL_TW_DEFAULT_MAX
  // Keeps `bits` of `entry` (number `fd`) for the next select(); false without memory for it.
  [[nodiscard]] bool owe(int fd, Entry& entry, Mask bits) noexcept;
  // Reports what earlier selects owe, oldest first, as far as `events` has room.
  void pay_owed(Events& events, std::size_t& count) noexcept;
  [[nodiscard]] bool owes() const noexcept { return owed_head_ < owed_.size(); }
  // Turns one completion into (part of) an event, or readiness owed when `events` is full;
  // false, leaving it queued, when there is no memory to owe it. Inlined into reap(), its one
  // caller, which runs it for every completion.
  [[gnu::always_inline]] inline bool take(const io_uring_cqe& completion, Events& events,
                                          std::size_t& count) noexcept;
  // `bits` of `entry` (number `fd`) into `events`: merged into its event of this batch, added,
  // or owed when `events` is full; false when there is no memory to owe them.
  bool report(int fd, Entry& entry, Mask bits, Events& events, std::size_t& count) noexcept;
  // `bits` into `entry`'s event of this batch (`merge`) or a new one at out[count].
  [[gnu::always_inline]] inline void emit(Entry& entry, Mask bits, bool merge, Event* out,
                                          std::size_t& count) noexcept;

  // ---- receive-ahead (io_uring_receive.cpp), all with mutex_ held ----
  struct Buffers;
  // The ring of receive buffers, registered with the ring; false where the kernel has none.
  [[nodiscard]] bool provide_buffers() noexcept;
  void release_buffers() noexcept;
  // A recv request's completion: its bytes into the store, its buffer back, the stream's event.
  bool take_received(const io_uring_cqe& completion, Events& events, std::size_t& count) noexcept;
  // Records a recv request for `entry` when it reads ahead and has none.
  void arm_receive(int fd, Entry& entry) noexcept;
  // Records a new poll request for `entry` (its mask changed with its receive state).
  void replace_poll_request(int fd, Entry& entry) noexcept;
  // Ends `fd`'s recv request, if any, and reaps, so that its bytes are in the store.
  void settle_receive(std::unique_lock<detail::FutexMutex>& lock, int fd) noexcept;
  // Reaps what the completion queue holds outside select(): readiness is owed to the next one.
  void reap_to_owed() noexcept;
  // select(): paused streams whose stores were read empty read ahead again.
  void resume_paused() noexcept;
  // The selector's end (io_uring_ring.cpp): every recv request cancelled, its bytes in its
  // store.
  void settle_all_receives() noexcept;

  // Every registry call and every select() take it: the futex lock costs an atomic instruction
  // each way where std::mutex costs about 60 instructions through pthread.
  mutable detail::FutexMutex mutex_;
  io_uring ring_;
  // PollOptions::single_thread: select() binds the ring to its thread (take_ring_here).
  bool single_thread_ = false;
  // The thread the ring is bound to (IORING_SETUP_SINGLE_ISSUER): the only one that may enter
  // it. nullptr: a shared ring.
  const void* issuer_ = nullptr;
  std::vector<Entry> entries_;  // indexed by fd
  std::size_t registered_ = 0;
  std::vector<Change> changes_;
  std::vector<int> owed_;  // numbers whose entries owe readiness, from owed_head_ on
  std::size_t owed_head_ = 0;
  std::uint32_t batch_ = 0;
  // How many reaps have run, starting at 1: dates the drains of libpoll sources (EdgeLink).
  std::shared_ptr<std::atomic<std::uint64_t>> clock_ =
      std::make_shared<std::atomic<std::uint64_t>>(1);
  const void* poller_ = nullptr;  // this_thread_tag() of the thread in select()
  ChangeCounts counts_;
  bool blocked_ = false;  // select() waits in io_uring_enter without the lock
  // select() has prepared submission entries the kernel may not have yet (from fill_queue
  // until its io_uring_enter returned): a cancel that finds no request then proves nothing.
  bool submitting_ = false;
  bool wake_armed_ = false;             // the internal eventfd's request is live (select() alone)
  std::unique_ptr<EventfdWaker> wake_;  // internal: interrupts a blocked select()
  bool sync_cancel_;                    // the kernel cancels requests synchronously (6.0)
  unsigned skip_success_ = 0;           // IOSQE_CQE_SKIP_SUCCESS where the kernel has it (5.17)
  const pid_t creator_ = ::getpid();    // a forked child's copy must not touch the ring's requests
  // detail::generation() when the selector was made, with the fork hook installed; without the
  // hook, creator_ is compared with getpid() (a system call) instead.
  const bool fork_hooked_ = detail::fork_hook_installed();
  const std::uint64_t generation_ = detail::generation();
  // Receive-ahead: the buffers (nullptr: not a receive-ahead selector), the paused streams,
  // an empty Events for reaps outside select(), and how far the submission queue was filled
  // (a cancel waits until the kernel has taken that far).
  struct DropBuffers {
    void operator()(Buffers* buffers) const noexcept;
  };
  std::unique_ptr<Buffers, DropBuffers> buffers_;
  std::vector<int> paused_;
  Events no_events_{0};
  unsigned filled_to_ = 0;
};

}  // namespace libpoll::sys
