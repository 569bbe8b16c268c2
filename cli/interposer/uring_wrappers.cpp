// io_uring rings as they are made. Epoll changes made through a ring (IORING_OP_EPOLL_CTL) are
// invisible here, so the image's Q record is written when its first ring is made, whenever that
// is: the looks at the first wait, exec and exit (kernel_view.cpp) miss a ring made after the
// first wait and closed before the exit. liburing's entry points are wrapped because on x86-64
// liburing makes its system calls with the instruction itself, not through syscall(3), which
// syscall_wrapper.cpp routes here. A ring made with the instruction by the program's own code (a
// statically linked liburing) is still seen only by those looks.

#include <sys/syscall.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "interposer.hpp"

using namespace pollscope::interposer;

struct io_uring;         // liburing's; only passed on
struct io_uring_params;  // <linux/io_uring.h>'s; only its flags are read

namespace {

// IORING_SETUP_REGISTERED_FD_ONLY (Linux 6.5): the call returns a registered ring index, not a
// descriptor.
constexpr std::uint32_t kRegisteredFdOnly = 1U << 15;

// The descriptor io_uring_setup returned as `result` with `params`, or -1 when it is none.
int descriptor_of(long result, const void* params) {
  std::uint32_t flags = 0;  // io_uring_params: sq_entries, cq_entries, then flags
  if (params != nullptr)
    std::memcpy(&flags, static_cast<const char*>(params) + 2 * sizeof flags, sizeof flags);
  return (flags & kRegisteredFdOnly) != 0 ? -1 : static_cast<int>(result);
}

// liburing's way to fail: -errno, errno untouched.
long raw_setup(unsigned entries, io_uring_params* params) {
  const int saved = errno;
  const long result = libc_syscall(SYS_io_uring_setup, entries, params);
  const long error = errno;
  errno = saved;
  return result < 0 ? -error : result;
}

}  // namespace

namespace pollscope::interposer {

long io_uring_made(long result, int ring) {
  if (result < 0 || !tracing()) return result;
  const int saved = errno;
  {
    Guard guard;
    if (guard.active()) note_io_uring(ring);
  }
  errno = saved;
  return result;
}

// syscall(SYS_io_uring_setup, ...) (syscall_wrapper.cpp).
long io_uring_setup_syscall(long entries, long params) {
  const long result = libc_syscall(SYS_io_uring_setup, entries, params);
  return io_uring_made(result, descriptor_of(result, reinterpret_cast<const void*>(params)));
}

}  // namespace pollscope::interposer

extern "C" {

// liburing 2.3 and later. Without a liburing after this library (a program that declares the
// call itself), made here as liburing would.
__attribute__((visibility("default"))) int io_uring_setup(unsigned entries,
                                                          io_uring_params* params) {
  static int (*next)(unsigned, io_uring_params*) = nullptr;
  const long result =
      real(next, "io_uring_setup") != nullptr ? next(entries, params) : raw_setup(entries, params);
  return static_cast<int>(io_uring_made(result, descriptor_of(result, params)));
}

// The queue initialisers return 0 (or, for _mem, the bytes used) and keep the descriptor in the
// ring, whose layout changes between liburing versions: it is looked for instead.
__attribute__((visibility("default"))) int io_uring_queue_init(unsigned entries, io_uring* ring,
                                                               unsigned flags) {
  static int (*next)(unsigned, io_uring*, unsigned) = nullptr;
  if (real(next, "io_uring_queue_init") == nullptr) return -ENOSYS;
  return static_cast<int>(io_uring_made(next(entries, ring, flags), -1));
}

__attribute__((visibility("default"))) int io_uring_queue_init_params(unsigned entries,
                                                                      io_uring* ring,
                                                                      io_uring_params* params) {
  static int (*next)(unsigned, io_uring*, io_uring_params*) = nullptr;
  if (real(next, "io_uring_queue_init_params") == nullptr) return -ENOSYS;
  return static_cast<int>(io_uring_made(next(entries, ring, params), -1));
}

// liburing 2.5 and later.
__attribute__((visibility("default"))) int io_uring_queue_init_mem(unsigned entries, io_uring* ring,
                                                                   io_uring_params* params,
                                                                   void* buffer, std::size_t size) {
  static int (*next)(unsigned, io_uring*, io_uring_params*, void*, std::size_t) = nullptr;
  if (real(next, "io_uring_queue_init_mem") == nullptr) return -ENOSYS;
  return static_cast<int>(io_uring_made(next(entries, ring, params, buffer, size), -1));
}

}  // extern "C"
