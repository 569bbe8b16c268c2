#pragma once

// What the audit asks of the files behind the registrations: their identity now, which
// registrations share one open file, and how to name a kernel mask.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "libpoll/detail/readiness.hpp"
#include "libpoll/fdinfo.hpp"
#include "libpoll/interest.hpp"
#include "libpoll/registration_info.hpp"

namespace libpoll::detail {

// Bits the kernel reports whatever was asked (epoll adds them to every registration's mask).
inline constexpr std::uint32_t kAlwaysReported = readiness::err | readiness::hup;

[[nodiscard]] std::optional<FileIdentity> identity_now(int fd);

// The readiness kinds of a kernel mask; epoll's and poll(2)'s bits agree for these three.
[[nodiscard]] std::optional<Interest> interest_of(std::uint32_t mask);

// "IN|RDHUP|ET": a mask as epoll's flag names.
[[nodiscard]] std::string mask_to_string(std::uint32_t mask);

// The files this process has open, read from /proc/self/fd once per audit (and only if asked):
// what keeps an epoll registration alive after its own descriptor is closed.
class OpenFiles {
 public:
  // Whether a descriptor refers to `file` (opened with `access_mode`, when known: the access
  // mode keeps a pipe's write end from standing in for its read end, as they share an inode).
  [[nodiscard]] bool holds(const FileIdentity& file, std::optional<int> access_mode);

 private:
  struct Key {
    std::uint64_t device;
    std::uint64_t inode;
    auto operator<=>(const Key&) const = default;
  };
  std::optional<std::map<Key, std::vector<int>>> modes_;  // access modes of each open file
};

// The registrations in `held` that share their open file with another one: the signature of a
// dup()'d or inherited descriptor registered twice. Registrations are grouped by inode, then
// told apart by open file with kcmp (n log n comparisons, counted in `comparisons`). Without
// kcmp, an inode group is split by access mode, and files on the anonymous inode (eventfd,
// timerfd, signalfd) are never called duplicates: nothing else can tell them apart.
[[nodiscard]] std::vector<const KernelRegistration*> registrations_of_one_open_file(
    std::span<const KernelRegistration> held, std::size_t& comparisons);

}  // namespace libpoll::detail
