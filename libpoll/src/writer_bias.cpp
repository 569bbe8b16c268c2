#include "writer_bias.hpp"

#include <linux/membarrier.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <thread>

#include "fence.hpp"

namespace libpoll::detail {

namespace {

long membarrier(int command) noexcept {
  return ::syscall(__NR_membarrier, command, 0, 0);
}

// Whether the process may use MEMBARRIER_CMD_PRIVATE_EXPEDITED: registered, and tried once.
bool barrier_ready() noexcept {
  static const bool ready = membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0 &&
                            membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0;
  return ready;
}

// A full memory barrier on every CPU that runs a thread of this process.
void heavy_barrier() noexcept {
  if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) return;
  // Refused since the claim (a sandbox entered meanwhile): taking write access from a page
  // shoots its TLB entries down on every CPU that runs the process, through an interrupt, which
  // orders that CPU's memory accesses as a fence would.
  static char* const page = static_cast<char*>(
      ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  if (page != MAP_FAILED) {
    *reinterpret_cast<volatile char*>(page) = 0;
    (void)::mprotect(page, 4096, PROT_READ);
    (void)::mprotect(page, 4096, PROT_READ | PROT_WRITE);
  }
  fence(std::memory_order_seq_cst);
}

void share_in_child() noexcept {
  process_writer_bias().share();
}

// Whether a forked child will start shared (the hook that makes it so is installed once).
bool child_hook_ready() noexcept {
  static const bool installed = ::pthread_atfork(nullptr, nullptr, share_in_child) == 0;
  return installed;
}

}  // namespace

bool WriterBias::begin_slow(std::uintptr_t me) noexcept {
  for (;;) {
    std::uintptr_t owner = owner_.load(std::memory_order_acquire);
    if (owner == kShared) return false;
    if (owner == me) return begin();
    if (owner == kRevoking) {
      std::this_thread::yield();  // the revoking thread waits out the owner's last section
      continue;
    }
    if (owner == kNobody) {
      // The first writer claims the bias where the barrier that revokes it works.
      const bool claimable = barrier_ready() && child_hook_ready();
      (void)owner_.compare_exchange_strong(owner, claimable ? me : kShared,
                                           std::memory_order_acq_rel);
      continue;
    }
    // Another thread holds the bias: revoke it, once for the process.
    if (!owner_.compare_exchange_strong(owner, kRevoking, std::memory_order_acq_rel)) continue;
    heavy_barrier();
    while (busy_.load(std::memory_order_acquire)) std::this_thread::yield();
    owner_.store(kShared, std::memory_order_release);
    return false;
  }
}

}  // namespace libpoll::detail
