#pragma once

// Many epoll_ctl calls in one system call: an io_uring whose requests are IORING_OP_EPOLL_CTL.
// The change table (PendingChanges) makes the registers, reregisters and deregisters recorded
// between two polls through it, so that a loop that registers a thousand sources before its
// next poll enters the kernel once for them, not a thousand times. Each call still gets its own
// result.
//
// Each thread has its own ring, taken the first time the thread makes a batch and kept until
// the thread ends, when it goes back to a small pool for the next threads (a ring is never
// closed while the process lives: closing one interrupts the closing thread's next blocking
// call). Where the kernel does not run
// EPOLL_CTL requests (no liburing at build time, a kernel before 5.19, io_uring disabled by
// sysctl or seccomp, no descriptor left), or where LIBPOLL_BATCH_CHANGES=0 asks for system calls
// a tracer can see, there is no ring, and every change is made with its own epoll_ctl. A forked
// child shares its parent's rings, so it opens its own.

#include <cstdint>
#include <memory>
#include <span>

namespace libpoll::sys {

// The mask and data of one epoll registration, as epoll_ctl takes them.
struct KernelState {
  std::uint32_t events = 0;
  std::uint64_t data = 0;
  friend bool operator==(const KernelState&, const KernelState&) = default;
};

// One epoll_ctl call: `op` is EPOLL_CTL_ADD, _MOD or _DEL; `result` is 0 or -errno once made.
struct EpollCtl {
  int op = 0;
  int fd = -1;
  KernelState state;
  int result = 0;
};

class EpollCtlRing {
 public:
  // This thread's ring, opened on first use; nullptr where there is none (see above).
  [[nodiscard]] static EpollCtlRing* of_this_thread() noexcept;

  EpollCtlRing(const EpollCtlRing&) = delete;
  EpollCtlRing& operator=(const EpollCtlRing&) = delete;
  ~EpollCtlRing();

  // Makes every call on `epoll_fd`, each on its own descriptor (so their order does not
  // matter), and sets each one's result. A call the ring could not take is made with its own
  // epoll_ctl.
  void make(int epoll_fd, std::span<EpollCtl> calls) noexcept;

 private:
  struct Ring;
  explicit EpollCtlRing(std::unique_ptr<Ring> ring) noexcept;
  [[nodiscard]] static std::unique_ptr<EpollCtlRing> open() noexcept;

  std::unique_ptr<Ring> ring_;
};

// False when the environment says LIBPOLL_BATCH_CHANGES=0: every change is then made with its
// own epoll_ctl, where a tool that interposes or traces epoll_ctl sees it.
[[nodiscard]] bool batching_allowed() noexcept;

// One epoll_ctl system call, with the result as EpollCtl keeps it.
int make_epoll_ctl(int epoll_fd, const EpollCtl& call) noexcept;

}  // namespace libpoll::sys
