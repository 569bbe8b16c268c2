// peers_bench's completion floor: raw io_uring, each read end watched by a multishot recv into a
// ring of provided buffers. The kernel reads the byte when it arrives, and the loop learns it
// from a completion: no read call, and nothing to re-arm, per event. No readiness library can do
// less for an event whose data must be read, so its dispatch and churn ratios are the floor the
// readiness loops are measured against (its churn is its dispatch: it has no interest to change).
//
// The ring is driven by one thread (IORING_SETUP_SINGLE_ISSUER, so that completions are
// processed when that thread waits, not in the writer's system call). It starts disabled: the
// first thread that drives it enables it. The echo thread of the ping-pong workload makes a ring
// of its own when another thread drove the current one, and unwatch_all closes a ring it cannot
// drive.

#include <liburing.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <thread>
#include <vector>

#include "peer_loops.hpp"

namespace peers {
namespace {

class UringRecvLoop final : public Loop {
 public:
  ~UringRecvLoop() override { close_ring(); }

  [[nodiscard]] bool open_ring() {
    io_uring_params params{};
    params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
                   IORING_SETUP_R_DISABLED | IORING_SETUP_CQSIZE;
    params.cq_entries = 4 * kBuffers;
    if (io_uring_queue_init_params(kSubmissions, &ring_, &params) != 0) return false;
    open_ = true;
    // The buffer ring's memory: page-aligned, as the kernel maps it (liburing 2.3 has no helper).
    void* memory = nullptr;
    if (::posix_memalign(&memory, 4096, kBuffers * sizeof(io_uring_buf)) != 0) {
      close_ring();
      return false;
    }
    buffers_ = static_cast<io_uring_buf_ring*>(memory);
    io_uring_buf_ring_init(buffers_);
    io_uring_buf_reg registration{};
    registration.ring_addr = reinterpret_cast<std::uintptr_t>(buffers_);
    registration.ring_entries = kBuffers;
    registration.bgid = kGroup;
    if (io_uring_register_buf_ring(&ring_, &registration, 0) != 0) {
      close_ring();
      return false;
    }
    registered_ = true;
    storage_.assign(std::size_t{kBuffers} * kBufferSize, 0);
    for (unsigned id = 0; id < kBuffers; ++id) give_back(id, id);
    io_uring_buf_ring_advance(buffers_, kBuffers);
    return true;
  }

  void watch_all(std::vector<bench::StreamPair>& pairs) override {
    // Reopened after an echo thread's ring was closed; the kernel gave one in make_uring_recv_loop.
    if (!open_ && !open_ring()) std::abort();
    fds_.clear();
    for (auto& pair : pairs) fds_.push_back(pair.first.as_raw_fd());
    for (std::size_t i = 0; i < fds_.size(); ++i) arm(i);
  }
  void unwatch_all() override {
    if (driver_ == std::this_thread::get_id()) {
      // One cancel per watch, by its request's data (the kernel finds that in a hash table;
      // a cancel by descriptor walks every request), then every recv's last completion reaped;
      // the ring stays.
      for (std::size_t i = 0; i < fds_.size(); ++i) {
        io_uring_sqe* sqe = next_sqe();
        io_uring_prep_cancel64(sqe, i, 0);
        io_uring_sqe_set_data64(sqe, kCancel);
        ++pending_cancels_;
      }
      while (armed_ != 0 || pending_cancels_ != 0) reap(true, nullptr);
      return;
    }
    // A ring another thread drove (the echo thread, now gone) is closed, which cancels the rest.
    close_ring();
  }
  void apply() override {
    if (open_) reap(false, nullptr);
  }

  [[gnu::noinline]] std::size_t dispatch_round(std::size_t expected, bool /*churn*/) override {
    std::size_t handled = 0;
    while (handled < expected) handled += reap(true, nullptr);
    return handled;
  }
  void serve_echo() override {
    // A ring this thread cannot drive (another drove it) is replaced, with the same watches.
    if (driver_ != std::thread::id{} && driver_ != std::this_thread::get_id()) {
      close_ring();
      if (!open_ring()) std::abort();
      for (std::size_t i = 0; i < fds_.size(); ++i) arm(i);
    }
    bool stop = false;
    while (!stop) reap(true, &stop);
  }

 private:
  static constexpr unsigned kSubmissions = 4096;
  static constexpr unsigned kBuffers = 4096;
  static constexpr unsigned kBufferSize = 64;
  static constexpr int kGroup = 0;
  static constexpr std::uint64_t kCancel = ~std::uint64_t{0};

  void close_ring() {
    if (!open_) return;
    if (registered_) (void)io_uring_unregister_buf_ring(&ring_, kGroup);
    io_uring_queue_exit(&ring_);
    std::free(buffers_);
    buffers_ = nullptr;
    open_ = registered_ = false;
    armed_ = pending_cancels_ = 0;
    driver_ = {};
  }
  void give_back(unsigned id, unsigned offset) {
    io_uring_buf_ring_add(buffers_, storage_.data() + std::size_t{id} * kBufferSize, kBufferSize,
                          static_cast<unsigned short>(id), io_uring_buf_ring_mask(kBuffers),
                          static_cast<int>(offset));
  }
  io_uring_sqe* next_sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) {
      drive();
      (void)io_uring_submit(&ring_);
      sqe = io_uring_get_sqe(&ring_);
    }
    return sqe;
  }
  void arm(std::size_t index) {
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_recv_multishot(sqe, fds_[index], nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = kGroup;
    io_uring_sqe_set_data64(sqe, index);
    ++armed_;
  }
  // The first thread to submit becomes the ring's only submitter.
  void drive() {
    if (driver_ != std::thread::id{}) return;
    // Debian's liburing 2.3 declares io_uring_enable_rings but does not export it.
    if (::syscall(__NR_io_uring_register, ring_.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr,
                  0) != 0) {
      std::abort();
    }
    driver_ = std::this_thread::get_id();
  }
  // Submits what is queued, waits for a completion when `wait`, and handles every completion
  // there is: the events read (in echo mode, answered; `stop` set by a 'q').
  std::size_t reap(bool wait, bool* stop) {
    drive();
    (void)(wait ? io_uring_submit_and_wait(&ring_, 1) : io_uring_submit(&ring_));
    std::size_t events = 0;
    unsigned head = 0;
    unsigned seen = 0;
    unsigned returned = 0;
    io_uring_cqe* cqe = nullptr;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++seen;
      const std::uint64_t data = io_uring_cqe_get_data64(cqe);
      if (data == kCancel) {
        --pending_cancels_;
        continue;
      }
      if ((cqe->flags & IORING_CQE_F_BUFFER) != 0) {
        const unsigned id = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        const char* bytes = storage_.data() + std::size_t{id} * kBufferSize;
        if (cqe->res > 0) {
          ++events;
          const auto got = static_cast<std::size_t>(cqe->res);
          if (stop != nullptr && bytes[got - 1] == 'q') *stop = true;
          if (stop != nullptr && !*stop) (void)::write(fds_[data], bytes, got);
        }
        give_back(id, returned++);
      }
      if ((cqe->flags & IORING_CQE_F_MORE) == 0) {
        --armed_;
        // Out of buffers or a short stop: armed again, unless the watch is being cancelled.
        if (pending_cancels_ == 0 && cqe->res != -ECANCELED) arm(data);
      }
    }
    io_uring_buf_ring_advance(buffers_, static_cast<int>(returned));
    io_uring_cq_advance(&ring_, seen);
    return events;
  }

  io_uring ring_{};
  bool open_ = false;
  bool registered_ = false;
  io_uring_buf_ring* buffers_ = nullptr;
  std::vector<char> storage_;
  std::vector<int> fds_;
  std::size_t armed_ = 0;
  std::size_t pending_cancels_ = 0;
  std::thread::id driver_;
};

}  // namespace

std::unique_ptr<Loop> make_uring_recv_loop() {
  auto loop = std::make_unique<UringRecvLoop>();
  // Unavailable where io_uring, multishot recv or provided buffer rings are (checked once here).
  if (!loop->open_ring()) return nullptr;
  return loop;
}

}  // namespace peers
