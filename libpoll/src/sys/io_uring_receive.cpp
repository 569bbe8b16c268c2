// The io_uring backend's receive-ahead (PollOptions::receive_ahead): byte streams read by
// multishot recv requests into a ring of provided buffers, their bytes kept in each stream's
// store (detail::ReceivedBytes). See io_uring_selector.hpp for the rules.

#include <sched.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <memory>
#include <new>

#include "sys/io_uring_selector.hpp"

namespace libpoll::sys {

// The buffers the kernel picks from for each completion. 512 of 4 KiB: a round of a few hundred
// streams' messages between two reaps; past that a recv request ends with ENOBUFS and is made
// again by the next select(), its bytes waiting in the socket meanwhile.
struct IoUringSelector::Buffers {
  static constexpr unsigned kCount = 512;
  static constexpr std::size_t kSize = 4096;

  Buffers() = default;
  Buffers(const Buffers&) = delete;
  Buffers& operator=(const Buffers&) = delete;
  ~Buffers() {
    if (ring != nullptr) ::munmap(ring, kCount * sizeof(io_uring_buf));
  }

  [[nodiscard]] std::span<const std::byte> at(unsigned id, std::size_t length) const noexcept {
    return {storage.get() + std::size_t{id} * kSize, std::min(length, kSize)};
  }
  // Hands buffer `id` back to the kernel (one producer: the selector, under its lock).
  void give_back(unsigned id) noexcept {
    io_uring_buf_ring_add(ring, storage.get() + std::size_t{id} * kSize, kSize,
                          static_cast<unsigned short>(id), io_uring_buf_ring_mask(kCount), 0);
    io_uring_buf_ring_advance(ring, 1);
  }

  io_uring_buf_ring* ring = nullptr;  // page-aligned, as the kernel requires
  std::unique_ptr<std::byte[]> storage;
};

void IoUringSelector::DropBuffers::operator()(Buffers* buffers) const noexcept {
  delete buffers;
}

bool IoUringSelector::provide_buffers() noexcept {
  auto buffers = std::unique_ptr<Buffers, DropBuffers>(new (std::nothrow) Buffers);
  if (!buffers) return false;
  buffers->storage.reset(new (std::nothrow) std::byte[Buffers::kCount * Buffers::kSize]);
  void* memory = ::mmap(nullptr, Buffers::kCount * sizeof(io_uring_buf), PROT_READ | PROT_WRITE,
                        MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (memory == MAP_FAILED) return false;
  buffers->ring = static_cast<io_uring_buf_ring*>(memory);
  if (!buffers->storage) return false;
  io_uring_buf_ring_init(buffers->ring);
  io_uring_buf_reg registration{};
  registration.ring_addr = reinterpret_cast<std::uint64_t>(memory);
  registration.ring_entries = Buffers::kCount;
  registration.bgid = kReceiveGroup;
  // Buffer rings came with Linux 5.19; without them, this Poll works by readiness.
  if (io_uring_register_buf_ring(&ring_, &registration, 0) != 0) return false;
  for (unsigned id = 0; id < Buffers::kCount; ++id) buffers->give_back(id);
  buffers_ = std::move(buffers);
  return true;
}

void IoUringSelector::release_buffers() noexcept {
  if (!buffers_) return;
  (void)io_uring_unregister_buf_ring(&ring_, kReceiveGroup);  // the ring may be kept idle
  buffers_.reset();
}

void IoUringSelector::receive_ahead(int fd, std::shared_ptr<detail::ReceivedBytes> store) noexcept {
  if (store == nullptr || buffers_ == nullptr) return;
  const std::scoped_lock lock(mutex_);
  Entry* entry = live(fd);
  if (entry == nullptr || entry->received != nullptr) return;
  entry->received = std::move(store);
  entry->receive = Receive::active;
  // select() may have made its poll request meanwhile, asking for POLLIN.
  if (entry->kernel_data != 0 && reads_ahead(*entry)) replace_poll_request(fd, *entry);
  arm_receive(fd, *entry);
  // Bytes kept from an earlier registration: reported now, as a register reports a ready file.
  if ((entry->interest & POLLIN) != 0 && entry->received->pending()) (void)owe(fd, *entry, POLLIN);
  wake_if_blocked();
}

void IoUringSelector::arm_receive(int fd, Entry& entry) noexcept {
  if (!reads_ahead(entry) || entry.receive_data != 0) return;
  // Without memory for the change the stream waits for its next registry call; a recorded
  // duplicate is dropped by still_wanted().
  (void)record(Change{Kind::receive, user_data(fd, entry.generation) | kReceiveTag});
}

void IoUringSelector::replace_poll_request(int fd, Entry& entry) noexcept {
  entry.generation = next_generation();
  if (entry.kernel_data != 0) (void)record(Change{Kind::remove, 0, entry.kernel_data});
  entry.kernel_data = 0;
  (void)record(Change{Kind::add, user_data(fd, entry.generation)});
  // Owed readiness went with the old generation; what waits in the store is owed again.
  if (entry.received != nullptr && (entry.interest & POLLIN) != 0 && entry.received->pending()) {
    (void)owe(fd, entry, POLLIN);
  }
}

bool IoUringSelector::take_received(const io_uring_cqe& completion, Events& events,
                                    std::size_t& count) noexcept {
  const bool more = (completion.flags & IORING_CQE_F_MORE) != 0;
  const int fd = fd_of(completion.user_data);
  Entry* entry = live(fd);
  // Every path that ends a recv request reaps its completions before the entry changes
  // (settle_receive), so a completion with bytes always finds its request current.
  const bool current = entry != nullptr && entry->receive_data == completion.user_data;
  std::size_t held = 0;
  if ((completion.flags & IORING_CQE_F_BUFFER) != 0) {
    const unsigned id = completion.flags >> IORING_CQE_BUFFER_SHIFT;
    if (current && completion.res > 0) {
      held = entry->received->append(buffers_->at(id, static_cast<std::size_t>(completion.res)));
      ++counts_.received;
    }
    buffers_->give_back(id);
  }
  if (!current) return true;
  Mask bits = completion.res > 0 ? POLLIN : 0;
  if (!more) {
    entry->receive_data = 0;
    entry->received->set_receiving(false);
    const int result = completion.res;
    if (result == 0) {  // end of stream
      entry->receive = Receive::ended;
      bits = POLLIN | POLLRDHUP;
    } else if (result == -EINVAL || result == -EOPNOTSUPP || result == -ENOTSOCK) {
      // This kernel reads no stream ahead (multishot recv came with Linux 6.0): readiness.
      entry->receive = Receive::refused;
      replace_poll_request(fd, *entry);
    } else if (result < 0 && result != -ENOBUFS && result != -ECANCELED) {
      // The stream's error (a reset, a refused connection), which the kernel cleared.
      entry->received->fail(-result);
      entry->receive = Receive::ended;
      bits = POLLIN | POLLERR;
    } else {
      // Ended with its bytes (a full completion queue), out of buffers, or its thread gone.
      arm_receive(fd, *entry);
    }
  }
  if (held > detail::ReceivedBytes::kHighWater && entry->receive == Receive::active) {
    // The user reads slower than the peer sends: readiness until the store is read empty.
    entry->receive = Receive::paused;
    if (entry->receive_data != 0) (void)record(Change{Kind::cancel, 0, entry->receive_data});
    replace_poll_request(fd, *entry);
    try {
      paused_.push_back(fd);
    } catch (const std::bad_alloc&) {
      entry->receive = Receive::refused;  // never resumed: read by readiness from now on
    }
  }
  // Without memory to owe them, the bytes wait in the store for the stream's next event.
  if (bits != 0) (void)report(fd, *entry, bits & (entry->interest | kFaults), events, count);
  return true;
}

void IoUringSelector::settle_receive(std::unique_lock<detail::FutexMutex>& lock, int fd) noexcept {
  Entry* entry = live(fd);
  if (entry == nullptr || entry->receive_data == 0 || in_forked_child()) return;
  // select() fills the queue under the lock and enters the kernel without it: a recv request
  // it filled may not be in the kernel yet, where a cancel would miss it. The kernel takes the
  // queue as that io_uring_enter begins, so this wait is short.
  while (submitting_ && static_cast<int>(filled_to_ - std::atomic_ref<unsigned>(*ring_.sq.khead)
                                                          .load(std::memory_order_acquire)) > 0) {
    lock.unlock();
    (void)::sched_yield();
    lock.lock();
  }
  entry = live(fd);
  if (entry == nullptr || entry->receive_data == 0) return;
  io_uring_sync_cancel_reg cancel{};
  cancel.addr = entry->receive_data;
  cancel.timeout.tv_sec = -1;
  cancel.timeout.tv_nsec = -1;
  // ENOENT: the request had ended already; its last completion waits in the queue.
  (void)io_uring_register_sync_cancel(&ring_, &cancel);
  reap_to_owed();
  entry = live(fd);
  if (entry != nullptr && entry->receive_data != 0) {
    // No last completion (the kernel posts one for every cancelled request): nothing is in
    // flight that the store could wait for.
    entry->receive_data = 0;
    entry->received->set_receiving(false);
  }
}

void IoUringSelector::reap_to_owed() noexcept {
  unsigned completions = 0;
  (void)reap(no_events_, completions);
  // A select() blocked meanwhile may have been woken by what was reaped here.
  if (completions > 0) wake_if_blocked();
}

void IoUringSelector::resume_paused() noexcept {
  std::erase_if(paused_, [this](int fd) {
    Entry* entry = live(fd);
    if (entry == nullptr || entry->received == nullptr || entry->receive != Receive::paused) {
      return true;  // deregistered, or registered anew, since
    }
    if (entry->receive_data != 0 || !entry->received->empty()) return false;
    entry->receive = Receive::active;
    replace_poll_request(fd, *entry);
    arm_receive(fd, *entry);
    return true;
  });
}

}  // namespace libpoll::sys
