#pragma once

/// \file
/// Reading the kernel's own list of an epoll instance's registrations from
/// `/proc/<pid>/fdinfo/<epoll fd>`.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "libpoll/result.hpp"

namespace libpoll {

/// One registration as a selector holds it: for epoll, one `tfd:` line of the epoll fd's
/// fdinfo; for the poll(2) backend, one entry of its descriptor table.
struct KernelRegistration {
  /// The descriptor number the registration was made through.
  int target_fd = -1;
  /// The kernel's event mask (`EPOLLIN`, `EPOLLOUT`, `EPOLLET`...; poll(2) bits on that backend).
  std::uint32_t events = 0;
  /// The registration's data word: libpoll stores the token there.
  std::uint64_t data = 0;
  /// The file position at the time of reading (Linux 4.13 and later).
  std::optional<std::int64_t> position;
  /// Inode and device of the file the registration points at (Linux 4.13 and later). The device
  /// is converted to the encoding `stat` uses, so it compares with `st_dev`.
  std::optional<std::uint64_t> inode;
  std::optional<std::uint64_t> device;
  /// The open file's access mode (`O_RDONLY`, `O_WRONLY`, `O_RDWR`), when the selector knows it
  /// (the poll(2) backend does; epoll's fdinfo does not show it). It tells the two ends of a
  /// pipe apart, which share one inode.
  std::optional<int> access_mode;

  friend bool operator==(const KernelRegistration&, const KernelRegistration&) = default;
};

/// Parses the text of an epoll fdinfo file. Only `tfd:` lines are read; other lines, unknown
/// fields and malformed lines are skipped, so the parser survives kernels that add fields.
[[nodiscard]] std::vector<KernelRegistration> parse_epoll_fdinfo(std::string_view text);

/// Reads and parses `/proc/<pid>/fdinfo/<epoll_fd>`; `pid` 0 means this process. Errors are the
/// ones opening the file gives (`ENOENT` for no such fd or process, `EACCES` without the rights
/// to read another process's fdinfo); `std::errc::invalid_argument` when the descriptor is not
/// an epoll instance.
[[nodiscard]] Result<std::vector<KernelRegistration>> read_epoll_fdinfo(pid_t pid, int epoll_fd);

}  // namespace libpoll
