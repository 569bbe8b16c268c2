// The poll(2) backend's answers about its table: what it holds, for the book and the audit.

#include <sys/stat.h>

#include <mutex>

#include "sys/own_table.hpp"
#include "sys/poll_selector.hpp"

namespace libpoll::sys {

bool PollSelector::holds(int fd) noexcept {
  struct stat status {};
  if (::fstat(fd, &status) != 0) return false;
  const std::scoped_lock lock(mutex_);
  auto found = table_.find(fd);
  return found != table_.end() && found->second.identity == Identity{status.st_dev, status.st_ino};
}

Result<std::vector<KernelRegistration>> PollSelector::registrations() const {
  const std::scoped_lock lock(mutex_);
  std::vector<KernelRegistration> list;
  list.reserve(table_.size());
  for (const auto& [fd, entry] : table_) {
    list.push_back(listed(fd, entry));
  }
  return list;
}

std::optional<FileIdentity> PollSelector::file_of(int fd) const noexcept {
  const std::scoped_lock lock(mutex_);
  auto found = table_.find(fd);
  if (found == table_.end()) return std::nullopt;
  return identity_of(found->second);
}

}  // namespace libpoll::sys
