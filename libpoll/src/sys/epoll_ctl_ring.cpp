#include "sys/epoll_ctl_ring.hpp"

#include <sys/epoll.h>

#include <array>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdlib>
#include <mutex>
#include <new>
#include <string_view>

#include "ghost_gate.hpp"

#if LIBPOLL_HAVE_IO_URING
#include <liburing.h>
#endif

namespace libpoll::sys {

bool batching_allowed() noexcept {
  const char* setting = std::getenv("LIBPOLL_BATCH_CHANGES");
  return setting == nullptr || std::string_view(setting) != "0";
}

int make_epoll_ctl(int epoll_fd, const EpollCtl& call) noexcept {
  epoll_event event{};
  event.events = call.state.events;
  event.data.u64 = call.state.data;
  return ::epoll_ctl(epoll_fd, call.op, call.fd, &event) == 0 ? 0 : -errno;
}

#if LIBPOLL_HAVE_IO_URING

namespace {

constexpr unsigned kEntries = 128;  // calls per system call; more wait for the next one
constexpr int kNotMade = INT_MIN;

}  // namespace

struct EpollCtlRing::Ring {
  io_uring ring{};
  bool initialised = false;
  bool broken = false;  // a submission failed: the calls go one by one from then on
  // The kernel reads each call's event when it takes the request; kept here until then.
  std::array<epoll_event, kEntries> events{};

  Ring() = default;
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;
  ~Ring() {
    if (initialised) io_uring_queue_exit(&ring);
  }

  // Queues calls[first...] (at most kEntries); returns how many.
  std::size_t queue(int epoll_fd, std::span<EpollCtl> calls, std::size_t first) noexcept {
    std::size_t queued = 0;
    for (std::size_t i = first; i < calls.size() && queued < kEntries; ++i, ++queued) {
      io_uring_sqe* entry = io_uring_get_sqe(&ring);
      if (entry == nullptr) break;
      const EpollCtl& call = calls[i];
      epoll_event& event = events[queued];
      event.events = call.state.events;
      event.data.u64 = call.state.data;
      io_uring_prep_epoll_ctl(entry, epoll_fd, call.fd, call.op,
                              call.op == EPOLL_CTL_DEL ? nullptr : &event);
      io_uring_sqe_set_data64(entry, i);
    }
    return queued;
  }

  // Submits what is queued and reaps `count` results into `calls`; false if the ring failed.
  bool submit_and_reap(std::span<EpollCtl> calls, std::size_t count) noexcept {
    const int submitted = io_uring_submit_and_wait(&ring, static_cast<unsigned>(count));
    if (submitted < 0 && submitted != -EINTR) return false;
    std::size_t reaped = 0;
    while (reaped < count) {
      io_uring_cqe* completion = nullptr;
      // Usually all there already: the requests ran inline at the submission.
      const int waited = io_uring_wait_cqe(&ring, &completion);
      if (waited == -EINTR) continue;
      if (waited < 0) return false;
      unsigned head = 0;
      unsigned seen = 0;
      io_uring_for_each_cqe(&ring, head, completion) {
        const std::uint64_t index = io_uring_cqe_get_data64(completion);
        if (index < calls.size()) calls[index].result = completion->res;
        ++seen;
      }
      io_uring_cq_advance(&ring, seen);
      reaped += seen;
    }
    return true;
  }
};

std::unique_ptr<EpollCtlRing> EpollCtlRing::open() noexcept {
  if (!batching_allowed()) return nullptr;
  std::unique_ptr<Ring> ring(new (std::nothrow) Ring);
  if (!ring) return nullptr;
  io_uring_params params{};
  // Every request is submitted, even past one that fails to start (its result says why); and
  // the kernel runs the ring's deferred work when the ring is entered, never by interrupting
  // another system call (epoll_wait would fail with EINTR).
  params.flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN;
  if (io_uring_queue_init_params(kEntries, &ring->ring, &params) < 0) return nullptr;
  ring->initialised = true;
  io_uring_probe* probe = io_uring_get_probe_ring(&ring->ring);
  const bool supported = probe != nullptr && io_uring_opcode_supported(probe, IORING_OP_EPOLL_CTL);
  io_uring_free_probe(probe);
  if (!supported) return nullptr;
  return std::unique_ptr<EpollCtlRing>(new (std::nothrow) EpollCtlRing(std::move(ring)));
}

namespace {

// Rings of ended threads, kept for the next threads: a ring is never closed while the process
// lives (closing one costs its teardown, and interrupts the closing thread's next blocking
// call), and its memory is never unmapped and mapped again under another thread, which a race
// detector could not tell from a race (liburing maps it with its own system calls). The mutex
// hands each ring over from the thread that ended to the one that takes it.
class IdleRings {
 public:
  static IdleRings& instance() noexcept {
    static auto* rings = new IdleRings;  // never destroyed: threads may end after exit's
    return *rings;                       // destructors have run
  }
  void put(std::unique_ptr<EpollCtlRing> ring, std::uint64_t generation) noexcept {
    const std::scoped_lock lock(mutex_);
    if (generation != detail::generation() || count_ == rings_.size()) return;  // closed
    rings_[count_++] = std::move(ring);
  }
  std::unique_ptr<EpollCtlRing> take() noexcept {
    const std::scoped_lock lock(mutex_);
    if (generation_ != detail::generation()) {
      // A forked child: these are the parent's, shared with it. Its copies are closed.
      for (std::size_t i = 0; i < count_; ++i) rings_[i].reset();
      count_ = 0;
      generation_ = detail::generation();
    }
    if (count_ == 0) return nullptr;
    return std::move(rings_[--count_]);
  }

 private:
  std::mutex mutex_;
  std::array<std::unique_ptr<EpollCtlRing>, 16> rings_;
  std::size_t count_ = 0;
  std::uint64_t generation_ = detail::generation();
};

struct ThreadRing {
  std::unique_ptr<EpollCtlRing> ring;
  std::uint64_t generation = 0;  // detail::generation() when it was opened
  bool tried = false;

  ThreadRing() = default;
  ThreadRing(const ThreadRing&) = delete;
  ThreadRing& operator=(const ThreadRing&) = delete;
  ~ThreadRing() {
    if (ring != nullptr) IdleRings::instance().put(std::move(ring), generation);
  }
};

thread_local ThreadRing this_thread_ring;

}  // namespace

EpollCtlRing* EpollCtlRing::of_this_thread() noexcept {
  ThreadRing& mine = this_thread_ring;
  if (mine.tried && mine.generation != detail::generation()) {
    // A forked child: the ring's queues are shared with the parent, who may be using them.
    // Closing the child's copy leaves the parent's ring alone.
    mine.ring.reset();
    mine.tried = false;
  }
  if (!mine.tried) {
    mine.tried = true;
    mine.generation = detail::generation();
    if (detail::fork_hook_installed()) {
      mine.ring = IdleRings::instance().take();
      if (mine.ring == nullptr) mine.ring = open();
    }
  }
  if (mine.ring != nullptr && mine.ring->ring_->broken) return nullptr;
  return mine.ring.get();
}

EpollCtlRing::EpollCtlRing(std::unique_ptr<Ring> ring) noexcept : ring_(std::move(ring)) {}

EpollCtlRing::~EpollCtlRing() = default;

void EpollCtlRing::make(int epoll_fd, std::span<EpollCtl> calls) noexcept {
  for (EpollCtl& call : calls) call.result = kNotMade;
  std::size_t next = 0;
  while (next < calls.size() && !ring_->broken) {
    const std::size_t queued = ring_->queue(epoll_fd, calls, next);
    if (queued == 0 || !ring_->submit_and_reap(calls, queued)) {
      ring_->broken = true;
      break;
    }
    next += queued;
  }
  // What the ring did not take (or took without an answer) is made one call at a time.
  for (EpollCtl& call : calls) {
    if (call.result == kNotMade) call.result = make_epoll_ctl(epoll_fd, call);
  }
}

#else  // no liburing: every change is made with its own epoll_ctl

struct EpollCtlRing::Ring {};

EpollCtlRing* EpollCtlRing::of_this_thread() noexcept {
  return nullptr;
}
std::unique_ptr<EpollCtlRing> EpollCtlRing::open() noexcept {
  return nullptr;
}
EpollCtlRing::EpollCtlRing(std::unique_ptr<Ring> ring) noexcept : ring_(std::move(ring)) {}
EpollCtlRing::~EpollCtlRing() = default;
void EpollCtlRing::make(int epoll_fd, std::span<EpollCtl> calls) noexcept {
  for (EpollCtl& call : calls) call.result = make_epoll_ctl(epoll_fd, call);
}

#endif

}  // namespace libpoll::sys
