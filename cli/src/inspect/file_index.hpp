#pragma once

// Descriptors grouped by inode (a stat each, once) and, within a group, ordered by their open
// files with kcmp(KCMP_FILE): a registration's file is then found by bisection, a handful of
// KCMP_EPOLL_TFD comparisons (each walks the set once), not one per descriptor. Every eventfd,
// timerfd and signalfd shares one inode: with thousands of them, asking each descriptor in turn
// about each registration was a walk of the set per pair.

#include <sys/types.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "libpoll/fdinfo.hpp"

namespace pollscope {

struct FileStat {
  std::uint64_t inode = 0;
  std::uint64_t device = 0;
};

// The inode of `pid`'s descriptor `fd`; nothing once it is closed.
[[nodiscard]] std::optional<FileStat> stat_fd(pid_t pid, int fd);

// A merge sort that stays within its range whatever the comparison answers. Files are compared
// live, and a busy program that changes a descriptor meanwhile can make two answers disagree:
// std::sort's unguarded loops would then run off the range; here an element is only misplaced.
template <typename T, typename Less>
void merge_sort(std::vector<T>& items, Less less) {
  std::vector<T> merged(items.size());
  for (std::size_t width = 1; width < items.size(); width *= 2) {
    for (std::size_t low = 0; low < items.size(); low += 2 * width) {
      const auto middle = std::min(low + width, items.size());
      const auto high = std::min(low + 2 * width, items.size());
      std::size_t left = low;
      std::size_t right = middle;
      std::size_t to = low;
      while (left < middle && right < high)
        merged[to++] = less(items[right], items[left]) ? items[right++] : items[left++];
      while (left < middle) merged[to++] = items[left++];
      while (right < high) merged[to++] = items[right++];
    }
    items.swap(merged);
  }
}

// A descriptor that may hold a registered file: of this process, or of one sharing the set.
struct Holder {
  pid_t pid = 0;
  int fd = -1;
  std::string names;
};

class FileIndex {
 public:
  explicit FileIndex(std::vector<Holder> holders);

  // A registration, as the kernel lists it (its `occurrence`-th under its number, counting from
  // 0), in `owner`'s epoll instance `epoll_fd`.
  struct Registered {
    pid_t owner = 0;
    int epoll_fd = -1;
    const libpoll::KernelRegistration& kernel;
    unsigned occurrence = 0;
  };
  // The descriptors that are the file of `registered`, in the order they were given; nothing
  // when kcmp would not say (the caller then compares inodes).
  std::optional<std::vector<Holder>> holding(const Registered& registered);

 private:
  struct Member {
    Holder holder;
    std::size_t given = 0;  // its place in the order given
  };
  struct Group {
    std::vector<Member> members;
    bool ordered = false;
    bool refused = false;  // kcmp would not say
  };

  // Sorts the group by open file, once; false when kcmp is refused.
  static bool order(Group& group);
  // Bisection for the first member not ordered before the registered file, then the run of
  // members that are that file. False when kcmp is refused.
  static bool find_in(const Group& group, const Registered& registered, std::vector<Member>& found);

  std::map<std::pair<std::uint64_t, std::uint64_t>, Group> groups_;
};

}  // namespace pollscope
