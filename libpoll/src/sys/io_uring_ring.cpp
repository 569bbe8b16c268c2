// Where an io_uring selector's ring comes from and where it goes: made, or taken from the idle
// ones; moved to a ring bound to the polling thread (PollOptions::single_thread); cancelled and
// kept idle, or closed, when the selector goes.

#include <liburing.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <string_view>
#include <system_error>

#include "libpoll/error.hpp"
#include "sys/handed_out_rings.hpp"
#include "sys/idle_rings.hpp"
#include "sys/io_uring_selector.hpp"

namespace libpoll::sys {

namespace {

// Room for the changes of one poll in the submission queue; more are submitted in several
// batches. The completion queue is larger: every ready source may post several completions
// between two polls (a multishot request that finds it full ends, and is armed again).
constexpr unsigned kSubmissionEntries = 256;
constexpr unsigned kCompletionEntries = 4096;

// User data that no request has (generation 0 is no registration's).
constexpr std::uint64_t kNoRequestData = 1;

// LIBPOLL_IO_URING_SINGLE_ISSUER=1: every io_uring Poll of the process as if made with
// PollOptions::single_thread (for test and benchmark runs, as LIBPOLL_BACKEND is).
bool single_issuer_forced() noexcept {
  const char* value = std::getenv("LIBPOLL_IO_URING_SINGLE_ISSUER");
  return value != nullptr && std::string_view(value) == "1";
}

// LIBPOLL_IO_URING_RECEIVE_AHEAD=1: every io_uring Poll as if made with
// PollOptions::receive_ahead.
bool receive_ahead_forced() noexcept {
  const char* value = std::getenv("LIBPOLL_IO_URING_RECEIVE_AHEAD");
  return value != nullptr && std::string_view(value) == "1";
}

// io_uring_setup: a ring any thread may enter, with the flags that only make it cheaper where
// the kernel knows them, then without them. `cooperative` (the default) among them: the kernel
// then runs a request's completion work when the polling thread next enters it, with no
// interrupt. A receive-ahead ring goes without: a recv's copy is completion work, which must not
// wait for the next system call of a loop that reads from its streams' stores and so makes
// fewer (pollscope bench_chain on io_uring: 1.8 times the events per second, p99 latency halved).
// `bound`: a single-issuer ring instead (6.1), which
// only the calling thread may enter (its creator and, so, its issuer), and whose completion work
// the kernel runs only when that thread enters it for completions (DEFER_TASKRUN), all at once
// in its wait rather than at each wake-up of a watched file; EINVAL where the kernel has none.
int setup(io_uring& ring, io_uring_params& params, bool bound = false,
          bool cooperative = true) noexcept {
  constexpr unsigned kBound =
      IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  constexpr unsigned kCooperative = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
  const unsigned shared = IORING_SETUP_SUBMIT_ALL | (cooperative ? kCooperative : 0U);
  int result = -EINVAL;
  for (const unsigned flags : {shared, 0U}) {
    params = io_uring_params{};
    params.flags = IORING_SETUP_CQSIZE | (bound ? kBound : flags);
    params.cq_entries = kCompletionEntries;
    result = io_uring_queue_init_params(kSubmissionEntries, &ring, &params);
    if (result != -EINVAL || bound) return result;
  }
  return result;
}

// Cancels every request of `ring` and runs their completion work here (which lets go of their
// files): their completions wait in the queue. Only from a thread that may enter it.
void end_all_requests(io_uring& ring) noexcept {
  io_uring_sync_cancel_reg cancel{};
  cancel.flags = IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL;
  cancel.timeout.tv_sec = -1;
  cancel.timeout.tv_nsec = -1;
  (void)io_uring_register_sync_cancel(&ring, &cancel);
  (void)io_uring_enter(static_cast<unsigned>(ring.ring_fd), 0, 0, IORING_ENTER_GETEVENTS, nullptr);
}

// The same, dropping their completions: what a ring kept idle needs.
void cancel_all(io_uring& ring) noexcept {
  end_all_requests(ring);
  io_uring_cq_advance(&ring, io_uring_cq_ready(&ring));
}

// Whether the kernel cancels a request by user data synchronously (Linux 6.0): asked with a
// user data no request has, which such a kernel answers with ENOENT.
bool cancels_synchronously(io_uring& ring) noexcept {
  io_uring_sync_cancel_reg cancel{};
  cancel.addr = kNoRequestData;
  cancel.timeout.tv_sec = -1;
  cancel.timeout.tv_nsec = -1;
  return io_uring_register_sync_cancel(&ring, &cancel) == -ENOENT;
}

}  // namespace

Result<std::unique_ptr<IoUringSelector>> IoUringSelector::create(bool single_thread,
                                                                 bool receive_ahead) noexcept {
  // The ring made here is a shared one even for a single-thread Poll: the thread that creates a
  // ring is among those the kernel signals when it is closed, so the ring bound to the polling
  // thread is made by that thread, at its first select() (take_ring_here). A receive-ahead
  // Poll's ring stays shared: its recv requests are cancelled from any thread.
  const bool ahead = receive_ahead || receive_ahead_forced();
  const bool bound = !ahead && (single_thread || single_issuer_forced());
  io_uring ring{};
  if (IdleRings::instance().take(ring, false, this_thread_tag(), !ahead)) {
    return adopt(ring, true, bound, ahead);
  }
  io_uring_params params{};
  // ENOSYS (an old kernel, or a seccomp filter), EPERM (sysctl kernel.io_uring_disabled): not
  // the caller's mistake, but a backend this machine does not offer.
  if (setup(ring, params, false, !ahead) < 0) return Unexpected(Errc::backend_unavailable);
  // Timeouts passed with the wait (5.11) and multishot poll requests (5.13, the release that
  // brought resource tags) are what this backend is built on.
  constexpr unsigned needed = IORING_FEAT_EXT_ARG | IORING_FEAT_RSRC_TAGS | IORING_FEAT_NODROP;
  if ((params.features & needed) != needed) {
    io_uring_queue_exit(&ring);
    return Unexpected(Errc::backend_unavailable);
  }
  return adopt(ring, cancels_synchronously(ring), bound, ahead);
}

Result<std::unique_ptr<IoUringSelector>> IoUringSelector::adopt(const io_uring& ring,
                                                                bool sync_cancel,
                                                                bool single_thread,
                                                                bool receive_ahead) noexcept {
  auto wake = EventfdWaker::create();
  if (!wake) {
    io_uring copy = ring;
    io_uring_queue_exit(&copy);
    return Unexpected(wake.error());
  }
  IoUringSelector* selector = nullptr;
  try {
    selector = new IoUringSelector(ring, std::move(*wake), sync_cancel);
    selector->single_thread_ = single_thread;
  } catch (const std::bad_alloc&) {
  }
  if (selector == nullptr) {
    io_uring copy = ring;
    io_uring_queue_exit(&copy);
    return Unexpected(std::errc::not_enough_memory);
  }
  // Receiving ahead rests on synchronous cancels (Linux 6.0): without them, readiness.
  if (receive_ahead && sync_cancel) (void)selector->provide_buffers();
  return std::unique_ptr<IoUringSelector>(selector);
}

IoUringSelector::~IoUringSelector() {
  handed_out_rings::remove(ring_.ring_fd);  // its number may name another file, or ring, next
  // A forked child shares the parent's ring (its queues are shared mappings): a cancel would end
  // the parent's requests and an advance drop its completions. The child lets go of its copy.
  if (in_forked_child()) {
    io_uring_queue_exit(&ring_);
    return;
  }
  // Closing a ring makes the kernel queue work to every thread that made or entered it, which
  // ends the interruptible wait that thread is in (an epoll_wait of another Poll returns EINTR).
  // So a ring is closed only where the kernel cannot cancel synchronously: otherwise its
  // requests are cancelled, their completion work run here, their completions dropped, and the
  // ring kept for the next io_uring Poll of the process. A ring bound to a thread (`issuer_`)
  // takes those calls from that thread alone, and is kept for that thread's next single-thread
  // Poll; destroyed on another thread, it is closed (and a wait of its thread, if it lives, may
  // end early with EINTR).
  if (issuer_ != nullptr && issuer_ != this_thread_tag()) {
    io_uring_queue_exit(&ring_);
    return;
  }
  // Bytes received ahead that no one read yet go to their streams' stores, which outlive this.
  if (buffers_ != nullptr) {
    settle_all_receives();
    release_buffers();
  }
  if (sync_cancel_) {
    cancel_all(ring_);
    if (IdleRings::instance().put(ring_, issuer_)) return;
  }
  io_uring_queue_exit(&ring_);
}

void IoUringSelector::settle_all_receives() noexcept {
  end_all_requests(ring_);
  reap_to_owed();  // the recv requests' last bytes into their stores
  for (Entry& entry : entries_) {
    if (entry.received == nullptr || entry.receive_data == 0) continue;
    entry.receive_data = 0;  // no last completion: nothing left in flight for the store
    entry.received->set_receiving(false);
  }
}

Result<void> IoUringSelector::take_ring_here() noexcept {
  // A ring bound to this thread: one kept idle from an earlier Poll of it, or a new one made
  // here. Where the kernel has none, the Poll keeps its shared ring.
  io_uring fresh{};
  if (!IdleRings::instance().take(fresh, true, this_thread_tag())) {
    io_uring_params params{};
    const int made = setup(fresh, params, true);
    if (made == -EINVAL && issuer_ == nullptr) {
      single_thread_ = false;
      return {};
    }
    if (made < 0) return Unexpected(std::error_code(-made, std::system_category()));
  }
  try {
    reserve_changes(registered_);
  } catch (const std::bad_alloc&) {
    // Kept rather than closed: closing a ring this thread made would end its next wait.
    if (!IdleRings::instance().put(fresh, this_thread_tag())) io_uring_queue_exit(&fresh);
    return Unexpected(std::errc::not_enough_memory);
  }
  // The old ring: a shared one is cancelled and kept idle; one bound to another thread is
  // closed, which ends its requests and lets their files go (and may end one wait of that
  // thread, if it lives, with EINTR).
  const bool handed_out = handed_out_rings::names_one(ring_.ring_fd);
  handed_out_rings::remove(ring_.ring_fd);
  if (issuer_ == nullptr && sync_cancel_) {
    cancel_all(ring_);
    if (!IdleRings::instance().put(ring_, nullptr)) io_uring_queue_exit(&ring_);
  } else {
    io_uring_queue_exit(&ring_);
  }
  ring_ = fresh;
  if (handed_out) handed_out_rings::add(ring_.ring_fd);
  issuer_ = this_thread_tag();
  wake_armed_ = false;
  // Every request was the old ring's: removals recorded for them have nothing left to remove,
  // and each live registration's request is made again here (reporting its source if it is
  // still ready, so no edge is lost).
  std::erase_if(changes_, [](const Change& change) { return change.kind == Kind::remove; });
  for (std::size_t fd = 0; fd < entries_.size(); ++fd) {
    Entry& entry = entries_[fd];
    entry.held_data = 0;
    if (entry.generation == 0 || entry.kernel_data == 0) continue;
    entry.kernel_data = 0;
    (void)record(Change{Kind::add, user_data(static_cast<int>(fd), entry.generation)});
  }
  return {};
}

}  // namespace libpoll::sys
