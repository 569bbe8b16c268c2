#include "sys/handed_out_rings.hpp"

#include <algorithm>
#include <mutex>
#include <new>
#include <vector>

#include "sys/open_file.hpp"

namespace libpoll::sys::handed_out_rings {

namespace {

struct List {
  std::mutex mutex;
  std::vector<int> rings;
};

List& list() noexcept {
  static List instance;
  return instance;
}

}  // namespace

void add(int ring_fd) noexcept {
  List& shared = list();
  const std::scoped_lock lock(shared.mutex);
  if (std::find(shared.rings.begin(), shared.rings.end(), ring_fd) != shared.rings.end()) return;
  try {
    shared.rings.push_back(ring_fd);
  } catch (const std::bad_alloc&) {
    return;  // best effort: such a ring is then not refused
  }
  detail::listed.fetch_add(1, std::memory_order_relaxed);
}

void remove(int ring_fd) noexcept {
  if (!any()) return;
  List& shared = list();
  const std::scoped_lock lock(shared.mutex);
  const auto found = std::find(shared.rings.begin(), shared.rings.end(), ring_fd);
  if (found == shared.rings.end()) return;
  shared.rings.erase(found);
  detail::listed.fetch_sub(1, std::memory_order_relaxed);
}

bool names_one(int fd) noexcept {
  List& shared = list();
  const std::scoped_lock lock(shared.mutex);
  return std::any_of(shared.rings.begin(), shared.rings.end(),
                     [fd](int ring) { return fd == ring || compare_open_files(fd, ring) == 0; });
}

}  // namespace libpoll::sys::handed_out_rings
